package dev.onionrelay.layer;

import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelPromise;
import io.netty.handler.ssl.SslHandler;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;
import java.nio.channels.ClosedChannelException;
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
 * <p>Beside it: {@link RecordSizing} (plaintext per record), {@link HandshakeAccounting} (how each handshake ended),
 * {@link PendingPop} (writes held while our pop waits) and, on a shaped layer, the frames ({@code layer.shaping}). All
 * methods except {@link #status()} and {@link #depth()} run on the channel's event loop.
 */
public final class LayerStack {

    private static final AtomicLong HANDLER_SEQUENCE = new AtomicLong();

    private final Channel channel;
    private final Side side;
    private final String anchor;
    private final String peerHost;
    private final int peerPort;
    private final StackListener listener;
    private final CopyOnWriteArrayList<Layer> layers = new CopyOnWriteArrayList<>();
    private final int minDepth;
    private final HandshakeAccounting handshakes;
    private final PendingPop pendingPop;
    private boolean inboundEnded;

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
        this.listener = new ViolationOnce(listener);
        this.handshakes = new HandshakeAccounting(this, layers, this.listener);
        this.pendingPop = new PendingPop(channel);
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
        return (int) layers.stream().filter(l -> l.provider() == provider).count();
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
        return layers.stream().allMatch(layer -> layer.state() == LayerState.ESTABLISHED);
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
            done.tryFailure(new ClosedChannelException());
            return;
        }
        Layer layer;
        try {
            layer = add(configured.get(index), false);
        } catch (RuntimeException cannotStart) {
            handshakes.notStarted(configured.get(index), cannotStart);
            done.tryFailure(cannotStart);
            return;
        }
        // This listener runs inside the outer handler's unwrap, before it fires the plaintext that follows the
        // handshake: the next layer is therefore in place before its first bytes (a ClientHello) arrive.
        layer.handler().handshakeFuture().addListener(f -> {
            if (!f.isSuccess() || layer.state() == LayerState.FAILED) {
                // FAILED after a successful handshake: its allow refused the peer (HandshakeAccounting.succeeded).
                done.tryFailure(f.isSuccess() ? new ClosedChannelException() : f.cause());
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
            handshakes.notStarted(prepared, cannotStart);
            throw cannotStart;
        }
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
        layer.wrapDataSize(RecordSizing.provisional(layers.size()));
        layers.forEach(Layer::shapeNextBurst);
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
        channel.pipeline().addAfter(layer.handlerName(), layer.guardName(), new LayerGuard(layer, this, handshakes));
        layer.attachShaper(channel.pipeline(), bytes -> listener.paddingSent(this, bytes));
        if (dynamic) {
            listener.pushed(this, layer, Initiator.LOCAL);
        }
        return layer;
    }

    private void onHandshake(Layer layer, Future<? super Channel> result) {
        if (result.isSuccess()) {
            handshakes.unwatch(layer);
            alignRecords(layer);
            handshakes.succeeded(layer);
            return;
        }
        handshakes.failed(layer, result.cause());
    }

    /**
     * Sizes {@code layer}'s records, now that its protocol is known, so that one of them fills exactly one record of
     * the layer outside it (the outermost fills a full record on the wire); why, and the numbers, in
     * {@link RecordSizing}.
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
        layer.wrapDataSize(
                index == 0
                        ? RecordSizing.outermost(layer.provider(), session.getProtocol())
                        : RecordSizing.inside(
                                layer.provider(),
                                session.getProtocol(),
                                session.getCipherSuite(),
                                layers.get(index - 1).wrapDataSize()));
    }

    /**
     * The peer's close_notify arrived on {@code layer}. Runs inside that handler's decode (see class comment), or at
     * the end of the read that brought it ({@link LayerGuard}).
     */
    void onCloseNotify(Layer layer) {
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
            handshakes.connectionLost(new ClosedChannelException());
        }
        if (index != layers.size() - 1) {
            settleAwaitedCloses(index);
            index = layers.indexOf(layer);
        }
        if (index != layers.size() - 1) {
            // close_notify under open inner layers: a violation; under one still in its handshake: a set-up given up.
            for (int inner = index + 1; inner < layers.size(); inner++) {
                Layer above = layers.get(inner);
                if (!above.inboundClosed && above.handshaken()) {
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
        if (!layer.ownCloseSent()) {
            // Unflushed data is wrapped before the engine closes; a shaped layer outside pads our answer too.
            channel.flush();
            layers.forEach(Layer::shapeNextBurst);
            layer.closeOutbound(channel.pipeline());
        }
        layer.removed = true;
        layers.remove(layer);
        // Removal forwards whatever followed the close_notify to the next handler (the layer outside's plaintext).
        layer.detachShaper(channel.pipeline());
        channel.pipeline().remove(layer.handler());
        channel.pipeline().remove(layer.guardName());
        // Writes held while we waited for the peer's close_notify now leave, in order, through the layer outside.
        pendingPop.release(layer);
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
        pendingPop.holdWrites(innermost);
        layers.forEach(Layer::shapeNextBurst);
        innermost.closeOutbound(channel.pipeline());
    }

    /**
     * Ends our outbound direction on this side: close_notify on every layer, innermost first (each one carried by
     * the layers outside it), then nothing more. The future completes once the last close_notify is written; the
     * caller then shuts down TCP output.
     */
    public ChannelFuture closeOutbound() {
        Future<Void> heldWrites = pendingPop.released();
        if (heldWrites != null) {
            // Writes held for a pop leave through the layer outside once the pop is done: close after them.
            ChannelPromise closed = channel.newPromise();
            heldWrites.addListener(f -> closeOutbound().addListener(c -> {
                if (c.isSuccess()) {
                    closed.trySuccess();
                } else {
                    closed.tryFailure(c.cause());
                }
            }));
            return closed;
        }
        channel.flush();
        layers.forEach(Layer::shapeNextBurst);
        ChannelFuture last = null;
        for (int i = layers.size() - 1; i >= 0; i--) {
            Layer layer = layers.get(i);
            layer.closing();
            if (!layer.ownCloseSent()) {
                last = layer.closeOutbound(channel.pipeline());
            }
        }
        return last != null ? last : channel.writeAndFlush(Unpooled.EMPTY_BUFFER);
    }

    /**
     * The name of the layer we are popping from our side while the peer's close_notify answer is still on its way, or
     * null when no such pop is pending. Event loop only.
     */
    public @Nullable String pendingPop() {
        return pendingPop.layerName();
    }

    /** The tunnel is being torn down by us: later handshake failures are consequences, not failures to count. */
    public void abandon() {
        handshakes.abandon();
    }
}
