package dev.onionrelay.layer;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPromise;
import io.netty.handler.ssl.SslCloseCompletionEvent;
import io.netty.handler.ssl.SslHandler;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.ImmediateExecutor;
import io.netty.util.concurrent.Promise;
import java.util.List;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLException;

/**
 * The {@link SslHandler} of a layer on OpenSSL that keeps half-close (see {@link OpenSslHalfClose}): it keeps each
 * direction's close_notify itself, so that the engine never looks closed to Netty and both directions run at full
 * speed whichever of them has ended.
 *
 * <ul>
 *   <li>The peer's close_notify: the engine reports it as an ordinary read with nothing decoded, so this handler asks
 *       after every decode and, the first time it has arrived, completes the close future and fires {@link
 *       SslCloseCompletionEvent} as {@code SslHandler} does for a closed engine: still inside the decode, so that the
 *       stack can remove the layer before the bytes that followed the close_notify are read as TLS records (they stay
 *       in the cumulation, which a removed decoder hands to the next handler). Writing goes on.
 *   <li>Our close_notify ({@link #closeOutbound(ChannelPromise)}): queued in BoringSSL and sent by a flush, the promise
 *       completing when it is written. Reading goes on.
 * </ul>
 */
final class HalfCloseSslHandler extends SslHandler {

    private final Promise<Channel> closePromise;
    private ChannelHandlerContext context;
    private boolean inboundClosed;
    private boolean outboundClosed;

    /**
     * @param engine Netty's OpenSSL engine, already set up by {@link OpenSslHalfClose#keepSendingAfterCloseNotify}
     * @throws IllegalStateException when this Netty's {@code SslHandler} no longer keeps its close future as a promise
     *     this handler can complete (see {@link #closePromise})
     */
    HalfCloseSslHandler(SSLEngine engine) {
        // As the OpenSSL context's own handlers: tasks (certificate checks) run at once on the event loop.
        super(engine, false, ImmediateExecutor.INSTANCE);
        this.closePromise = closePromise(sslCloseFuture());
    }

    /**
     * The promise behind {@code SslHandler}'s close future, which this handler completes when the peer's close_notify
     * arrives (the engine itself never reports it). Netty keeps it as a promise today; if a Netty upgrade changed that,
     * a handler that went on would never report a close_notify and every pop would hang until the idle timeout, so
     * the layer fails to start instead, loudly (counted and logged as a handshake that cannot start).
     */
    @SuppressWarnings("unchecked")
    static Promise<Channel> closePromise(Future<Channel> closeFuture) {
        if (closeFuture instanceof Promise<?> promise) {
            return (Promise<Channel>) promise;
        }
        throw new IllegalStateException("SslHandler.sslCloseFuture() is a "
                + closeFuture.getClass().getName()
                + ", not a promise: OpenSSL half-close cannot report the peer's close_notify with this Netty"
                + " (docs/STACK.md); run with onion.tls.provider=jdk");
    }

    /** Whether the peer's close_notify has arrived on this layer. Event loop only. */
    boolean inboundClosed() {
        return inboundClosed;
    }

    /** Whether our close_notify has been sent (or the engine closed its outbound side by itself). Event loop only. */
    boolean outboundClosed() {
        return outboundClosed || engine().isOutboundDone();
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) throws Exception {
        context = ctx;
        super.handlerAdded(ctx);
    }

    @Override
    protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) throws SSLException {
        super.decode(ctx, in, out);
        if (!inboundClosed && OpenSslHalfClose.closeNotifyReceived(engine())) {
            inboundClosed = true;
            closed(ctx);
        }
    }

    private void closed(ChannelHandlerContext ctx) {
        // SslHandler's close future is its promise; it is completed here exactly where SslHandler would complete it.
        if (closePromise.trySuccess(ctx.channel())) {
            ctx.fireUserEventTriggered(SslCloseCompletionEvent.SUCCESS);
        }
    }

    /**
     * Sends our close_notify and keeps reading. Before the handshake has finished (or on an engine that cannot queue
     * it) this is {@code SslHandler}'s own close, which also ends reading.
     */
    @Override
    public ChannelFuture closeOutbound(ChannelPromise promise) {
        if (context == null) {
            return super.closeOutbound(promise);
        }
        if (context.executor().inEventLoop()) {
            closeOutbound0(promise);
        } else {
            context.executor().execute(() -> closeOutbound0(promise));
        }
        return promise;
    }

    private void closeOutbound0(ChannelPromise promise) {
        if (outboundClosed) {
            promise.trySuccess();
            return;
        }
        // What was written before goes out ahead of the close_notify; BoringSSL encrypts nothing after it.
        try {
            flush(context);
        } catch (Exception e) {
            promise.tryFailure(e);
            return;
        }
        if (!OpenSslHalfClose.sendCloseNotify(engine())) {
            outboundClosed = true;
            super.closeOutbound(promise);
            return;
        }
        outboundClosed = true;
        // An empty write carries the promise: the wrap that takes it first sends what BoringSSL queued, the
        // close_notify, and the promise completes with that write.
        try {
            write(context, Unpooled.EMPTY_BUFFER, promise);
            flush(context);
        } catch (Exception e) {
            promise.tryFailure(e);
        }
    }
}
