package dev.onionrelay.layer;

import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelOutboundHandlerAdapter;
import io.netty.channel.ChannelPromise;
import io.netty.channel.PendingWriteQueue;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;
import java.nio.channels.ClosedChannelException;
import org.jspecify.annotations.Nullable;

/**
 * The pop we started from our side while the peer's close_notify answer is on its way, and the writes held meanwhile
 * ({@link PopHold}). Apart from {@link LayerStack}, which decides when a pop starts and ends (the close_notify
 * ordering), because holding, releasing and failing writes is pipeline plumbing with its own lifetime: the hold can
 * also end with the channel, before the pop does. At most one pop is pending at a time. Event loop only.
 */
final class PendingPop {

    private final Channel channel;
    /** Holds writes while the innermost layer is popped from our side. */
    private @Nullable PopHold hold;

    PendingPop(Channel channel) {
        this.channel = channel;
    }

    /**
     * From now on, writes meant for {@code innermost} are held right inside it until {@link #release} or the channel's
     * end, because its engine, once closed, fails every later write.
     */
    void holdWrites(Layer innermost) {
        PopHold held = new PopHold(innermost);
        channel.pipeline().addAfter(innermost.guardName(), innermost.holdName(), held);
        hold = held;
    }

    /**
     * {@code layer} has left the stack: if writes were held for its pop, they now go out through the layer outside,
     * after the popped layer's close_notify and in the order they were written.
     */
    void release(Layer layer) {
        PopHold held = hold;
        if (held != null && held.layer == layer) {
            hold = null;
            held.release();
        }
    }

    /** The name of the layer being popped from our side, or null when no such pop is pending. */
    @Nullable
    String layerName() {
        PopHold held = hold;
        return held != null ? held.layer.name() : null;
    }

    /** Done when the writes held for the pending pop have been passed on (or the channel is gone); null if none. */
    @Nullable
    Future<Void> released() {
        PopHold held = hold;
        return held != null ? held.released : null;
    }

    /**
     * Holds the writes meant for a layer that we are popping, from its close_notify until the peer's answer removes
     * it; then passes them on, in order, to the layer outside. The held bytes count as pending outbound bytes of the
     * channel, so the channel turns unwritable at the usual mark and the other side stops reading.
     */
    private final class PopHold extends ChannelOutboundHandlerAdapter {

        final Layer layer;
        /** Done when the held writes have been passed on (or the channel is gone). */
        final Promise<Void> released = channel.eventLoop().newPromise();

        private ChannelHandlerContext ctx;
        private PendingWriteQueue queue;

        PopHold(Layer layer) {
            this.layer = layer;
        }

        @Override
        public void handlerAdded(ChannelHandlerContext ctx) {
            this.ctx = ctx;
            this.queue = new PendingWriteQueue(ctx);
        }

        @Override
        public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
            queue.add(msg, promise);
        }

        @Override
        public void flush(ChannelHandlerContext ctx) {
            // Nothing held may leave yet; flushes still reach the layers outside for what they have.
            ctx.flush();
        }

        /** Writes everything held to the next handler outwards, then leaves the pipeline. */
        void release() {
            queue.removeAndWriteAll();
            ctx.pipeline().remove(this);
        }

        @Override
        public void handlerRemoved(ChannelHandlerContext ctx) {
            if (hold == this) {
                // Torn down with the channel before the pop finished: nothing held can be sent any more.
                hold = null;
            }
            queue.removeAndFailAll(new ClosedChannelException());
            released.trySuccess(null);
        }
    }
}
