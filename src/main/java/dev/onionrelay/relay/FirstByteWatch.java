package dev.onionrelay.relay;

import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.jspecify.annotations.Nullable;

/**
 * First in a client connection's pipeline until the client's first byte: tells the tunnel when it comes, and closes
 * the connection when it does not come within the first-byte timeout (when there is one). A silent connection is
 * then gone long before its handshake would time out. Removes itself at the first byte; its timer goes with it.
 */
final class FirstByteWatch extends ChannelInboundHandlerAdapter {

    static final String NAME = "first-byte";

    private final Runnable firstByte;
    private final @Nullable Duration timeout;
    private final Runnable timedOut;
    private io.netty.util.concurrent.@Nullable Future<?> timer;

    /**
     * @param firstByte run at the first byte, before it goes on
     * @param timeout how long to wait for it, null for as long as the connection lasts
     * @param timedOut run when the timeout passes first
     */
    FirstByteWatch(Runnable firstByte, @Nullable Duration timeout, Runnable timedOut) {
        this.firstByte = firstByte;
        this.timeout = timeout;
        this.timedOut = timedOut;
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        if (timeout != null) {
            timer = ctx.executor().schedule(timedOut, timeout.toMillis(), TimeUnit.MILLISECONDS);
        }
    }

    @Override
    public void handlerRemoved(ChannelHandlerContext ctx) {
        cancel();
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        cancel();
        ctx.fireChannelInactive();
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        cancel();
        ctx.pipeline().remove(this);
        firstByte.run();
        ctx.fireChannelRead(msg);
    }

    private void cancel() {
        io.netty.util.concurrent.Future<?> pending = timer;
        if (pending != null) {
            timer = null;
            pending.cancel(false);
        }
    }
}
