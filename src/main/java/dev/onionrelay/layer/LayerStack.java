package dev.onionrelay.layer;

import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelOutboundHandlerAdapter;
import io.netty.channel.ChannelPromise;
import io.netty.channel.PendingWriteQueue;
import io.netty.handler.ssl.SslHandler;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;
import java.nio.channels.ClosedChannelException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import javax.net.ssl.SSLSession;
import org.jspecify.annotations.Nullable;

/**
 * The ordered TLS layers on one connection, outermost first: the stack semantics (docs/STACK.md) in one place.
 *
 * <p>Each layer is an {@link SslHandler} in the channel's pipeline. The outermost sits nearest the head, so inbound
 * bytes are decrypted outermost first and outbound bytes encrypted innermost first: the ordering the seed got wrong.
 * New layers go right before the {@code anchor} handler (the tunnel's splice), which makes them the innermost.
 *
 * <p>Pop keeps the TCP connection: the innermost layer exchanges close_notify with the peer and its handler is
 * removed. Bytes that followed the close_notify in the same read are not lost: {@code ByteToMessageDecoder}
 * hands its leftover cumulation to the next handler when it is removed, so they continue as data of the layer
 * outside it. The removal must happen inside the close notification itself, before the handler tries to decode
 * those bytes as TLS records.
 *
 * <p>A pop from our side loses no write either: what was written before it leaves through the layer ahead of its
 * close_notify; what is written while the peer's answer is on its way is held right inside the layer (counted
 * against the channel's writability) and then leaves through the layer outside, in order. The peer's data that
 * precedes its close_notify is still read through the popping layer: with TLS 1.3 and 1.2, on both engines.
 *
 * <p>All methods except {@link #status()} and {@link #depth()} run on the channel's event loop.
 */
public final class LayerStack {

    /** Record overhead assumed until a layer's protocol is known: more than any AEAD suite adds. */
    static final int RECORD_OVERHEAD_PER_LAYER = 64;

    static final int MAX_PLAINTEXT = 16 * 1024;

    /** Floor for a layer's plaintext per record, so that a deep stack still carries useful records. */
    static final int MIN_WRAP_DATA_SIZE = 1024;

    /**
     * Most plaintext the JDK engine (17) puts in one TLS 1.3 record: 2^14 less the 17 bytes of the inner content type
     * and the tag, measured. Given 16,384 bytes it writes 16,367 and leaves 17, which Netty then joins to the next
     * chunk by copying both into a new buffer, for every record.
     */
    static final int JDK_TLS13_MAX_PLAINTEXT = MAX_PLAINTEXT - 17;

    private static final AtomicLong HANDLER_SEQUENCE = new AtomicLong();

    private static final System.Logger LOG = System.getLogger(LayerStack.class.getName());

    /** Layer configurations whose handshake could not start, logged once each. */
    private static final java.util.Map<io.netty.handler.ssl.SslContext, Boolean> UNSTARTABLE =
            new java.util.WeakHashMap<>();

    private final Channel channel;
    private final Side side;
    private final String anchor;
    private final String peerHost;
    private final int peerPort;
    private final StackListener listener;
    private final CopyOnWriteArrayList<Layer> layers = new CopyOnWriteArrayList<>();
    private final int minDepth;
    private boolean inboundEnded;
    /** Holds writes while the innermost layer is popped from our side. */
    private @Nullable PopHold hold;

    private boolean abandoned;
    private Throwable lastException;

    /**
     * @param anchor the pipeline name of the handler that stays innermost (layers are added before it)
     * @param peerHost,peerPort the remote end, a hint for client session caches
     */
    public LayerStack(
            Channel channel,
            Side side,
            String anchor,
            String peerHost,
            int peerPort,
            int minDepth,
            StackListener listener) {
        this.channel = channel;
        this.side = side;
        this.anchor = anchor;
        this.peerHost = peerHost;
        this.peerPort = peerPort;
        this.minDepth = minDepth;
        this.listener = listener;
    }

    public Side side() {
        return side;
    }

    public Channel channel() {
        return channel;
    }

    public int depth() {
        return layers.size();
    }

    public int minDepth() {
        return minDepth;
    }

    /** Live layers that run on {@code provider}. Safe from any thread. */
    public int depthOn(TlsProvider provider) {
        int count = 0;
        for (Layer layer : layers) {
            if (layer.provider() == provider) {
                count++;
            }
        }
        return count;
    }

    /** Whether the peer has ended its direction on this side (close_notify at the minimum depth). */
    public boolean inboundEnded() {
        return inboundEnded;
    }

    /** A snapshot of every layer, outermost first. Safe from any thread. */
    public List<LayerStatus> status() {
        List<LayerStatus> result = new ArrayList<>();
        int index = 0;
        for (Layer layer : layers) {
            result.add(layer.status(index++));
        }
        return result;
    }

    /** Whether every layer has finished its handshake. */
    public boolean established() {
        for (Layer layer : layers) {
            if (layer.state() != LayerState.ESTABLISHED) {
                return false;
            }
        }
        return true;
    }

    /**
     * Pushes the configured layers one after the other: each inner handshake starts inside the outer one as soon as
     * the outer one completes. The future completes when all are established, or fails with the first failure.
     */
    public Future<Void> pushAll(List<PreparedLayer> configured) {
        return pushAll(configured, AfterHandshake.NOTHING);
    }

    /**
     * As {@link #pushAll(List)}, with {@code after} run inside each layer once its handshake is done and before the
     * next layer starts: a CONNECT through an HTTPS proxy hop. A failure of what it returns fails the push with it.
     */
    public Future<Void> pushAll(List<PreparedLayer> configured, AfterHandshake after) {
        Promise<Void> done = channel.eventLoop().newPromise();
        pushFrom(configured, 0, done, after);
        return done;
    }

    /** Work inside a layer between its handshake and the start of the next layer. */
    @FunctionalInterface
    public interface AfterHandshake {

        /** Nothing between layers. */
        AfterHandshake NOTHING = (stack, layer) -> null;

        /**
         * Called on the event loop right when {@code layer}'s handshake succeeded, before the bytes that followed it
         * are read: handlers added now before {@link LayerStack#innerAnchor()} see them.
         *
         * @return completes when the next layer may start, or null when it may start at once
         */
        @Nullable
        Future<Void> run(LayerStack stack, Layer layer);
    }

    /**
     * The pipeline name of the handler that stays inside every layer: a handler added right before it reads and writes
     * the plaintext of the current innermost layer.
     */
    public String innerAnchor() {
        return anchor;
    }

    private void pushFrom(List<PreparedLayer> configured, int index, Promise<Void> done, AfterHandshake after) {
        if (index == configured.size()) {
            done.trySuccess(null);
            return;
        }
        if (!channel.isActive()) {
            done.tryFailure(new java.nio.channels.ClosedChannelException());
            return;
        }
        Layer layer;
        try {
            layer = add(configured.get(index), false);
        } catch (RuntimeException cannotStart) {
            notStarted(configured.get(index), cannotStart);
            done.tryFailure(cannotStart);
            return;
        }
        // This listener runs inside the outer handler's unwrap, before it fires the plaintext that follows the
        // handshake: the next layer is therefore in place before its first bytes (a ClientHello) arrive.
        layer.handler().handshakeFuture().addListener(f -> {
            if (!f.isSuccess()) {
                done.tryFailure(f.cause());
                return;
            }
            Future<Void> between;
            try {
                between = after.run(this, layer);
            } catch (RuntimeException failed) {
                done.tryFailure(failed);
                return;
            }
            if (between == null) {
                pushFrom(configured, index + 1, done, after);
                return;
            }
            between.addListener(ready -> {
                if (ready.isSuccess()) {
                    pushFrom(configured, index + 1, done, after);
                } else {
                    done.tryFailure(ready.cause());
                }
            });
        });
    }

    /**
     * Pushes one more innermost layer on the live connection (startTLS). Its handshake runs in the background. Throws
     * (and counts the failure) if the layer's handshake cannot start.
     */
    public Layer push(PreparedLayer prepared) {
        try {
            return add(prepared, true);
        } catch (RuntimeException cannotStart) {
            notStarted(prepared, cannotStart);
            throw cannotStart;
        }
    }

    /**
     * A layer whose handshake cannot even start: its TLS engine cannot be made from its settings (a protocol no engine
     * knows, say), so nothing reaches the wire and there is no alert. Counted as {@code other} on every connection,
     * logged once per layer configuration.
     */
    private void notStarted(PreparedLayer prepared, RuntimeException cause) {
        boolean first;
        synchronized (UNSTARTABLE) {
            first = UNSTARTABLE.put(prepared.context(), Boolean.TRUE) == null;
        }
        if (first) {
            LOG.log(
                    System.Logger.Level.WARNING,
                    "Layer ''{0}'' on the {1} side cannot start a handshake ({2}); every connection through it fails"
                            + " and is counted with reason ''other''",
                    prepared.spec().name(),
                    side.label(),
                    cause.toString());
        }
        listener.handshakeNotStarted(this, prepared.spec().name(), HandshakeFailures.OTHER, cause);
    }

    private Layer add(PreparedLayer prepared, boolean dynamic) {
        LayerSpec spec = prepared.spec();
        SslHandler handler;
        if (spec.role() == Role.CLIENT) {
            String serverName = spec.serverName() != null ? spec.serverName() : peerHost;
            handler = TlsContexts.newClientHandler(prepared, channel.alloc(), serverName, peerPort);
        } else {
            handler = TlsContexts.newServerHandler(prepared, channel.alloc());
        }
        handler.setHandshakeTimeoutMillis(spec.handshakeTimeout().toMillis());
        handler.setCloseNotifyFlushTimeout(2, TimeUnit.SECONDS);
        Layer layer = new Layer(prepared, handler, "tls-" + HANDLER_SEQUENCE.incrementAndGet());
        // Provisional until the handshake tells the protocol (see alignRecords); only handshake messages use it.
        layer.wrapDataSize(Math.max(MIN_WRAP_DATA_SIZE, MAX_PLAINTEXT - RECORD_OVERHEAD_PER_LAYER * layers.size()));
        layers.add(layer);
        handler.handshakeFuture().addListener(f -> onHandshake(layer, f));
        handler.sslCloseFuture().addListener(f -> {
            if (f.isSuccess()) {
                onCloseNotify(layer);
            }
        });
        // In place before the handler, which may write its ClientHello as soon as it is added.
        channel.pipeline().addBefore(anchor, layer.watchName(), new AlertWatch(layer));
        channel.pipeline().addBefore(anchor, layer.handlerName(), handler);
        channel.pipeline().addAfter(layer.handlerName(), layer.guardName(), new LayerGuard(layer));
        if (dynamic) {
            listener.pushed(this, layer, Initiator.LOCAL);
        }
        return layer;
    }

    private void onHandshake(Layer layer, Future<? super Channel> result) {
        if (result.isSuccess()) {
            unwatch(layer);
            alignRecords(layer);
            layer.established();
            listener.handshakeSucceeded(this, layer, Duration.ofNanos(layer.elapsedNanos()));
            return;
        }
        if (layer.state() == LayerState.FAILED) {
            // Counted already: the connection ended under this handshake, and the future fails as a consequence.
            unwatch(layer);
            return;
        }
        if (layer.removed || abandoned) {
            // We removed the layer or are tearing the tunnel down ourselves: not a handshake failure.
            unwatch(layer);
            layer.failed("aborted");
            return;
        }
        Throwable cause = result.cause();
        String reason = HandshakeFailures.reason(cause, layer.alertsReceived.lastAlert(), AlertScanner.NONE);
        if (!reason.equals(HandshakeFailures.OTHER) && !reason.equals(HandshakeFailures.PEER_CLOSED)) {
            // Named already (an alert received, a problem we detected, a timeout): no alert we send can rename it.
            reportFailure(layer, cause);
            return;
        }
        layer.failed(reason);
        // The peer's address, read while the connection is open (the channel keeps it once read).
        channel.remoteAddress();
        // The handler writes the alert for a failure right after failing the future: read the wire one task later.
        try {
            channel.eventLoop().execute(() -> reportFailure(layer, cause));
        } catch (java.util.concurrent.RejectedExecutionException shuttingDown) {
            reportFailure(layer, cause);
        }
    }

    private void reportFailure(Layer layer, Throwable cause) {
        unwatch(layer);
        int received = layer.alertsReceived.lastAlert();
        int sent = layer.alertsSent.lastAlert();
        String reason = HandshakeFailures.reason(cause, received, sent);
        layer.failed(reason, HandshakeFailures.alertDirection(cause, received, sent));
        listener.handshakeFailed(this, layer, reason, cause);
    }

    /** Counts the failure of a layer whose handshake future has not failed (yet): once, then the future is ignored. */
    private void countFailure(Layer layer, Throwable cause) {
        if (layer.state() != LayerState.FAILED) {
            reportFailure(layer, cause);
        }
    }

    /**
     * The connection ended under a handshake: the peer closed or reset TCP, or closed a layer outside the one
     * handshaking. The layer whose handshake was under way failed ({@code peer_closed}, unless the peer said why in an
     * alert first). Counted once; the handshake future that fails next is not counted again.
     */
    private void connectionLost(Throwable cause) {
        if (abandoned) {
            return;
        }
        for (Layer layer : layers) {
            if (layer.state() == LayerState.HANDSHAKING) {
                countFailure(layer, cause);
                return;
            }
        }
    }

    private void unwatch(Layer layer) {
        if (channel.pipeline().context(layer.watchName()) != null) {
            channel.pipeline().remove(layer.watchName());
        }
    }

    /**
     * Sizes {@code layer}'s records, now that its protocol is known, so that one of them fills exactly one record of
     * the layer outside it (the outermost fills a full record on the wire). Netty's handler wraps {@code wrapDataSize}
     * bytes at a time from its queue of inner records: when an inner record is a few bytes short of that, every outer
     * record also takes the head of the next inner one, and Netty copies both into a new buffer (copyAndCompose),
     * record after record; the receiver in turn reassembles every inner record from two outer ones.
     *
     * <p>The size of the layer outside is final already: this layer's handshake travels as its application data, so
     * it cannot complete before that layer's. Application data is wrapped only after the handshake, so the
     * provisional size set at push time never carries any.
     */
    private void alignRecords(Layer layer) {
        int index = layers.indexOf(layer);
        if (index < 0) {
            // Already out of the stack (popped, or the tunnel torn down): it wraps nothing more.
            return;
        }
        SSLSession session = layer.handler().engine().getSession();
        int size = maxPlaintext(layer.provider(), session.getProtocol());
        if (index > 0) {
            int outsideRecord = layers.get(index - 1).wrapDataSize();
            size = Math.min(size, outsideRecord - recordOverhead(layer.provider(), session));
        }
        layer.wrapDataSize(Math.max(MIN_WRAP_DATA_SIZE, size));
    }

    /** Most plaintext one record of {@code protocol} takes; offering more only leaves a remainder to re-queue. */
    static int maxPlaintext(TlsProvider provider, String protocol) {
        return provider == TlsProvider.JDK && "TLSv1.3".equals(protocol) ? JDK_TLS13_MAX_PLAINTEXT : MAX_PLAINTEXT;
    }

    /**
     * Bytes one record adds to its plaintext: a 5-byte header and a 16-byte AEAD tag, plus the inner content type in
     * TLS 1.3 or the explicit nonce of TLS 1.2 AES-GCM. The JDK engine (17) adds 16 more to each TLS 1.3 record, with
     * every suite (measured: 1 byte of plaintext makes a record of 39, 16,320 bytes one of 16,358). Other suites get
     * the provisional allowance: their inner records then fall short of the outer size, which costs copies but is safe.
     */
    static int recordOverhead(TlsProvider provider, SSLSession session) {
        String protocol = session.getProtocol();
        String cipher = session.getCipherSuite();
        if ("TLSv1.3".equals(protocol)) {
            return provider == TlsProvider.JDK ? 5 + 1 + 16 + 16 : 5 + 1 + 16;
        }
        if ("TLSv1.2".equals(protocol) && cipher.contains("_GCM_")) {
            return 5 + 8 + 16;
        }
        if ("TLSv1.2".equals(protocol) && cipher.contains("CHACHA20")) {
            return 5 + 16;
        }
        return RECORD_OVERHEAD_PER_LAYER;
    }

    /**
     * An exception passed the guard right behind {@code layer}. The first guard to see an exception is the one of
     * the layer that raised it. A TLS 1.3 client finishes its handshake when it has sent its Finished, so a server
     * that rejects its certificate answers with an alert after the handshake future succeeded: an SSL failure on an
     * established layer that has not carried any data yet is still that layer's handshake failure.
     */
    private void onException(Layer layer, Throwable cause) {
        if (cause == lastException) {
            return;
        }
        lastException = cause;
        if (cause instanceof java.io.IOException && !isTlsFailure(cause)) {
            // A reset (or another transport error) under a handshake: the peer gave up on it.
            connectionLost(cause);
            return;
        }
        if (abandoned || layer.state() != LayerState.ESTABLISHED || layer.receivedData || !isTlsFailure(cause)) {
            return;
        }
        countFailure(layer, cause);
    }

    private static boolean isTlsFailure(Throwable cause) {
        for (Throwable t = cause; t != null; t = t.getCause() == t ? null : t.getCause()) {
            if (t instanceof javax.net.ssl.SSLException) {
                return true;
            }
        }
        return false;
    }

    /** Sits right behind one layer's handler: sees that layer's plaintext and the exceptions it raises first. */
    private final class LayerGuard extends io.netty.channel.ChannelInboundHandlerAdapter {

        private final Layer layer;

        LayerGuard(Layer layer) {
            this.layer = layer;
        }

        @Override
        public void channelRead(io.netty.channel.ChannelHandlerContext ctx, Object msg) {
            layer.receivedData = true;
            ctx.fireChannelRead(msg);
        }

        @Override
        public void channelReadComplete(io.netty.channel.ChannelHandlerContext ctx) {
            if (layer.awaitingPeerClose && !layer.removed && layer.peerClosed()) {
                // The peer's close_notify came in this read. The engine decodes nothing after it, so the bytes that
                // followed are still in the handler, which hands them on when it is removed.
                layer.awaitingPeerClose = false;
                onCloseNotify(layer);
            }
            ctx.fireChannelReadComplete();
        }

        @Override
        public void exceptionCaught(io.netty.channel.ChannelHandlerContext ctx, Throwable cause) {
            onException(layer, cause);
            ctx.fireExceptionCaught(cause);
        }

        @Override
        public void userEventTriggered(io.netty.channel.ChannelHandlerContext ctx, Object event) {
            if (event instanceof io.netty.channel.socket.ChannelInputShutdownEvent) {
                // TCP FIN: with half-closure allowed no channelInactive fails the handshake, the tunnel just ends.
                connectionLost(new java.nio.channels.ClosedChannelException());
            }
            ctx.fireUserEventTriggered(event);
        }
    }

    /**
     * Sits right before one layer's handler while it handshakes: reads the alerts that pass in the clear each way, so
     * that a failure is named by what was said on the wire (see {@link AlertScanner}). Removed when the handshake ends.
     */
    private static final class AlertWatch extends io.netty.channel.ChannelDuplexHandler {

        private final Layer layer;

        AlertWatch(Layer layer) {
            this.layer = layer;
        }

        @Override
        public void channelRead(io.netty.channel.ChannelHandlerContext ctx, Object msg) {
            if (msg instanceof io.netty.buffer.ByteBuf bytes) {
                layer.alertsReceived.scan(bytes);
            }
            ctx.fireChannelRead(msg);
        }

        @Override
        public void write(
                io.netty.channel.ChannelHandlerContext ctx, Object msg, io.netty.channel.ChannelPromise promise) {
            if (msg instanceof io.netty.buffer.ByteBuf bytes) {
                layer.alertsSent.scan(bytes);
            }
            ctx.write(msg, promise);
        }
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

    /** The peer's close_notify arrived on {@code layer}. Runs inside that handler's decode (see class comment). */
    private void onCloseNotify(Layer layer) {
        if (!layer.peerClosed()) {
            // Netty's OpenSSL engine, where its half-close cannot be set up (OpenSslHalfClose), reports CLOSED from
            // every unwrap once our own close_notify is out, and the handler takes that for the peer's. The peer's
            // answer is still to come, with data before it: the guard watches.
            layer.awaitingPeerClose = true;
            return;
        }
        layer.inboundClosed = true;
        int index = layers.indexOf(layer);
        if (index < 0) {
            return;
        }
        if (layer.state() == LayerState.ESTABLISHED) {
            // The peer closed the layer that carries a handshake still under way inside it.
            connectionLost(new java.nio.channels.ClosedChannelException());
        }
        if (index != layers.size() - 1) {
            settleAwaitedCloses(index);
            index = layers.indexOf(layer);
        }
        if (index != layers.size() - 1) {
            // Closing every layer innermost first is a clean end; a close_notify under open inner layers is not.
            for (int inner = index + 1; inner < layers.size(); inner++) {
                if (!layers.get(inner).inboundClosed) {
                    listener.protocolViolation(
                            this,
                            "close_notify on " + side.label() + " layer '" + layer.name() + "' which is not innermost");
                    return;
                }
            }
            return;
        }
        if (layer.localPopRequested) {
            remove(layer, Initiator.LOCAL);
        } else if (!inboundEnded && layers.size() > minDepth) {
            remove(layer, Initiator.PEER);
        } else if (!inboundEnded) {
            // No downgrade by popping: below the minimum depth a pop would hand the stream to whoever writes plaintext
            // next.
            inboundEnded = true;
            listener.inboundEnded(this);
        }
    }

    /**
     * A close_notify arrived on the layer at {@code index} while layers inside it are still in the stack. An inner
     * layer on Netty's OpenSSL engine that already sent its own close_notify learns of the peer's answer only at the
     * end of the read (see {@link LayerGuard}); when that answer and the outer layer's close_notify came in the same
     * read, the answer is taken now, innermost first, so that a clean end is not mistaken for a close_notify under an
     * open layer.
     */
    private void settleAwaitedCloses(int index) {
        for (int inner = layers.size() - 1; inner > index; inner--) {
            Layer candidate = layers.get(inner);
            if (inner != layers.size() - 1 || !candidate.awaitingPeerClose || candidate.removed) {
                return;
            }
            if (!candidate.peerClosed()) {
                return;
            }
            candidate.awaitingPeerClose = false;
            onCloseNotify(candidate);
        }
    }

    private void remove(Layer layer, Initiator initiator) {
        layer.closing();
        SslHandler handler = layer.handler();
        if (!layer.ownCloseSent()) {
            // Data written to us but not flushed yet must be wrapped before the engine closes.
            channel.flush();
            handler.closeOutbound();
        }
        layer.removed = true;
        layers.remove(layer);
        // Removal forwards whatever followed the close_notify to the next handler (the layer outside's plaintext).
        channel.pipeline().remove(handler);
        channel.pipeline().remove(layer.guardName());
        PopHold held = hold;
        if (held != null && held.layer == layer) {
            // What was written while we waited for the peer's close_notify now goes out through the layer outside,
            // after the popped layer's close_notify and in the order it was written.
            hold = null;
            held.release();
        }
        // An engine that answers close_notify by itself writes the answer without flushing it.
        channel.flush();
        listener.popped(this, layer, initiator);
    }

    /**
     * Pops the innermost layer from our side (stopTLS): sends close_notify and removes the layer when the peer's
     * close_notify arrives. Fails with {@link BelowMinimumDepthException} at the minimum depth.
     */
    public void popLocal() throws BelowMinimumDepthException {
        if (layers.size() <= minDepth || layers.isEmpty()) {
            throw new BelowMinimumDepthException(side, minDepth);
        }
        Layer innermost = layers.get(layers.size() - 1);
        if (innermost.localPopRequested) {
            return;
        }
        innermost.localPopRequested = true;
        innermost.closing();
        // Everything written so far is wrapped by the layer before its close_notify; what is written from now on is
        // held right inside it until it is gone, because its engine, once closed, fails every later write.
        channel.flush();
        PopHold held = new PopHold(innermost);
        channel.pipeline().addAfter(innermost.guardName(), innermost.holdName(), held);
        hold = held;
        innermost.handler().closeOutbound();
    }

    /**
     * Ends our outbound direction on this side: close_notify on every layer, innermost first (each one carried by
     * the layers outside it), then nothing more. The future completes once the last close_notify is written; the
     * caller then shuts down TCP output.
     */
    public ChannelFuture closeOutbound() {
        PopHold held = hold;
        if (held != null) {
            // Writes held for a pop leave through the layer outside once the pop is done: close after them.
            ChannelPromise closed = channel.newPromise();
            held.released.addListener(f -> closeOutbound().addListener(c -> {
                if (c.isSuccess()) {
                    closed.trySuccess();
                } else {
                    closed.tryFailure(c.cause());
                }
            }));
            return closed;
        }
        channel.flush();
        ChannelFuture last = null;
        for (int i = layers.size() - 1; i >= 0; i--) {
            Layer layer = layers.get(i);
            layer.closing();
            if (!layer.ownCloseSent()) {
                last = layer.handler().closeOutbound();
            }
        }
        return last != null ? last : channel.writeAndFlush(Unpooled.EMPTY_BUFFER);
    }

    /**
     * The name of the layer we are popping from our side while the peer's close_notify answer is still on its way, or
     * null when no such pop is pending. Event loop only.
     */
    public @Nullable String pendingPop() {
        PopHold held = hold;
        return held != null ? held.layer.name() : null;
    }

    /** The tunnel is being torn down by us: later handshake failures are consequences, not failures to count. */
    public void abandon() {
        abandoned = true;
    }
}
