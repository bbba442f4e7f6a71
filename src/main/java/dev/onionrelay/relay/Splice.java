package dev.onionrelay.relay;

import dev.onionrelay.layer.LayerStack;
import dev.onionrelay.layer.Side;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.handler.timeout.IdleStateEvent;
import io.netty.util.ReferenceCountUtil;
import java.util.ArrayDeque;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import org.jspecify.annotations.Nullable;

/**
 * Splices one channel of a tunnel into the other: one instance per channel, innermost in its pipeline (every layer's
 * plaintext reaches it), as Netty's HexDumpProxy keeps one handler per channel role. Buffers pass to the other channel
 * without copying; a channel that cannot write fast enough stops reads on the other (backpressure bounds memory per
 * tunnel), and reads start again when it drains. The cut is here because this is the one handler on the hot path:
 * before the tunnel opens, what the client sends goes to its {@link ProxyFront} or is held; the end of a direction
 * goes to the tunnel's {@link TunnelEnding}; the rest is byte moving only, tested apart on {@code EmbeddedChannel}s
 * ({@code SpliceTest}).
 *
 * <p>Event loop only: both channels of a tunnel share one.
 */
final class Splice extends ChannelInboundHandlerAdapter {

    /** The pipeline name of the splice; layers are added before it. */
    static final String NAME = "splice";

    private final Side side;
    private final TunnelEnding.Owner tunnel;
    private final TunnelEnding ending;
    /** Proxy modes, on the client's channel: reads the client's request before the tunnel opens; else null. */
    private final @Nullable ProxyFront front;
    /** What this channel's peer sent and the splice passed on: the tunnel's, and the relay's total. */
    private final AtomicLong forwarded = new AtomicLong();

    private final LongAdder relayForwarded;
    /** Run when the channel is active: the client's connection starts its tunnel. */
    private final Runnable onActive;
    /** Client bytes that arrived before the target was ready (the client's splice only). */
    private final ArrayDeque<ByteBuf> held = new ArrayDeque<>();

    private boolean needsFlush;

    Splice(
            Side side,
            TunnelEnding.Owner tunnel,
            TunnelEnding ending,
            @Nullable ProxyFront front,
            LongAdder relayForwarded,
            Runnable onActive) {
        this.side = side;
        this.tunnel = tunnel;
        this.ending = ending;
        this.front = front;
        this.relayForwarded = relayForwarded;
        this.onActive = onActive;
    }

    /** The bytes this splice passed on so far; read from any thread. */
    long forwarded() {
        return forwarded.get();
    }

    /** Bytes flow both ways, or the one way that has not ended yet. */
    private static boolean spliced(TunnelState state) {
        return state == TunnelState.OPEN || state == TunnelState.HALF_CLOSED;
    }

    /** Writes {@code buf}, read on this splice's channel, to {@code to}, counted; flushed by the caller. */
    private void forward(ByteBuf buf, Channel to) {
        int bytes = buf.readableBytes();
        forwarded.addAndGet(bytes);
        relayForwarded.add(bytes);
        to.write(buf, to.voidPromise());
    }

    /** Holds {@code buf} until the tunnel opens, after what is held already. */
    void hold(ByteBuf buf) {
        held.add(buf);
    }

    /** Proxy modes: the held bytes are the start of the client's request; moved {@code into} it, in order. */
    void moveHeld(ByteBuf into) {
        while (!held.isEmpty()) {
            ByteBuf buf = held.poll();
            into.writeBytes(buf);
            buf.release();
        }
    }

    /**
     * The tunnel is open: the held bytes go to {@code to}, flushed, then reads start, as far as {@code to} can take
     * them, unless the client has ended its direction meanwhile: that end is passed on now.
     */
    void opened(Channel to) {
        while (!held.isEmpty()) {
            forward(held.poll(), to);
        }
        to.flush();
        if (ending.peerEnded(Side.INGRESS)) {
            ending.passOnClientEnd();
        } else {
            setAutoRead(Side.INGRESS, to.isWritable());
        }
    }

    /** The tunnel closed: the held bytes are dropped. */
    void dropHeld() {
        while (!held.isEmpty()) {
            ReferenceCountUtil.release(held.poll());
        }
    }

    /**
     * Starts or stops reads on one side of this splice's tunnel, unless its input has ended: the epoll transport fails
     * (ENOENT from epoll_ctl) when interest in reads changes on a socket whose input is already shut down. While a pop
     * of ours awaits its answer on that side, reads do not stop (see {@link PopAnswerReads}).
     */
    void setAutoRead(Side of, boolean autoRead) {
        Channel channel = tunnel.channel(of);
        if (!autoRead
                && spliced(tunnel.state())
                && PopAnswerReads.keepReading(tunnel.stack(of), tunnel.channel(other(of)))) {
            return;
        }
        if (channel != null && !ending.peerEnded(of) && channel.isActive()) {
            channel.config().setAutoRead(autoRead);
        }
    }

    private static Side other(Side side) {
        return side == Side.INGRESS ? Side.EGRESS : Side.INGRESS;
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
        onActive.run();
        ctx.fireChannelActive();
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (!(msg instanceof ByteBuf buf)) {
            ReferenceCountUtil.release(msg);
            return;
        }
        LayerStack own = tunnel.stack(side);
        TunnelState state = tunnel.state();
        if (state == TunnelState.CLOSED || ending.lingering() || (own != null && own.inboundEnded())) {
            // End of direction at the minimum depth: after the peer ended this direction, bytes on the wire are not
            // data.
            buf.release();
            return;
        }
        if (side == Side.INGRESS && !spliced(state)) {
            // The target only after every ingress handshake: the proxy request, or what came with the last handshake,
            // held, and no more reads until the target is ready.
            if (front == null || !front.offer(buf)) {
                held.add(buf);
                setAutoRead(side, false);
            }
            return;
        }
        Channel to = tunnel.channel(other(side));
        if (to == null) {
            buf.release();
            return;
        }
        forward(buf, to);
        needsFlush = true;
        if (!to.isWritable()) {
            // Backpressure, within a read batch: stop before the next read instead of after up to 16 of them.
            setAutoRead(side, false);
        }
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        Channel to = tunnel.channel(other(side));
        if (needsFlush && to != null) {
            needsFlush = false;
            to.flush();
            if (!to.isWritable()) {
                // Backpressure: the other side is slow; stop reading here until it drains.
                setAutoRead(side, false);
            }
        }
        ctx.fireChannelReadComplete();
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
        if (ctx.channel().isWritable() && spliced(tunnel.state())) {
            setAutoRead(other(side), true);
        }
        ctx.fireChannelWritabilityChanged();
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object event) {
        if (event instanceof ChannelInputShutdownEvent) {
            ending.inputShutdown(side);
        } else if (event instanceof IdleStateEvent) {
            tunnel.close();
        }
        ReferenceCountUtil.release(event);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        tunnel.close();
        ctx.fireChannelInactive();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        // Handshake failures are reported through the layer's handshake future; anything else ends the tunnel.
        tunnel.close();
    }
}
