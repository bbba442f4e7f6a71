package dev.onionrelay.relay;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.util.ReferenceCountUtil;
import java.io.IOException;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.jspecify.annotations.Nullable;

/**
 * First in a client connection's pipeline until the client's first byte: hands the first read to its listener, which
 * may refuse it, and closes the connection when it does not come within the first-byte timeout (when there is one).
 * A silent connection is then gone long before its handshake would time out. Until the first byte this is all a
 * connection has of its set-up (no TLS engine yet, see {@link TunnelAdmission}), so it also tells when the client
 * leaves before it. Removes itself at the first byte; its timer goes with it.
 */
final class FirstByteWatch extends ChannelInboundHandlerAdapter {

    static final String NAME = "first-byte";

    /** What the watch reports; called on the channel's event loop. */
    interface Listener {

        /**
         * The client's first read, before it goes on.
         *
         * @return false to drop it (the listener has closed the connection)
         */
        boolean firstByte(ByteBuf first);

        /** The first-byte timeout passed first. */
        void timedOut();

        /** The connection ended (FIN, reset or close, ours included) before its first byte; at most once. */
        void endedBeforeFirstByte();
    }

    private final Listener listener;
    private final @Nullable Duration timeout;
    private io.netty.util.concurrent.@Nullable Future<?> timer;
    private boolean ended;

    /**
     * @param timeout how long to wait for the first byte, null for as long as the connection lasts
     */
    FirstByteWatch(Listener listener, @Nullable Duration timeout) {
        this.listener = listener;
        this.timeout = timeout;
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        if (timeout != null) {
            timer = ctx.executor().schedule(listener::timedOut, timeout.toMillis(), TimeUnit.MILLISECONDS);
        }
    }

    @Override
    public void handlerRemoved(ChannelHandlerContext ctx) {
        cancel();
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        cancel();
        ended();
        ctx.fireChannelInactive();
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object event) {
        if (event instanceof ChannelInputShutdownEvent) {
            // Half-closure is allowed: a client's FIN is this event, not the end of the channel.
            ended();
        }
        ctx.fireUserEventTriggered(event);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        if (cause instanceof IOException) {
            // A reset: told before the tunnel closes on it, so that it counts as the client's doing.
            ended();
        }
        ctx.fireExceptionCaught(cause);
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        cancel();
        ctx.pipeline().remove(this);
        if (!(msg instanceof ByteBuf first) || listener.firstByte(first)) {
            ctx.fireChannelRead(msg);
        } else {
            ReferenceCountUtil.release(msg);
        }
    }

    private void ended() {
        cancel();
        if (!ended) {
            ended = true;
            listener.endedBeforeFirstByte();
        }
    }

    private void cancel() {
        io.netty.util.concurrent.Future<?> pending = timer;
        if (pending != null) {
            timer = null;
            pending.cancel(false);
        }
    }
}
