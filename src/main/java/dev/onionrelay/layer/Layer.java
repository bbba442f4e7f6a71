package dev.onionrelay.layer;

import dev.onionrelay.layer.shaping.RecordSizes;
import dev.onionrelay.layer.shaping.ShapedFrames;
import dev.onionrelay.layer.shaping.ShapingHandler;
import dev.onionrelay.layer.shaping.ShapingPolicy;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPipeline;
import io.netty.handler.ssl.SslHandler;
import java.security.cert.Certificate;
import java.security.cert.X509Certificate;
import java.util.function.LongConsumer;
import javax.net.ssl.SSLPeerUnverifiedException;
import javax.net.ssl.SSLSession;
import org.jspecify.annotations.Nullable;

/**
 * One live TLS session on a connection: the spec it came from, its {@link SslHandler} and what status shows about
 * it. Mutated on the channel's event loop only; fields are volatile so that status can be read from any thread.
 */
public final class Layer {

    private final PreparedLayer prepared;
    private final SslHandler handler;
    private final String handlerName;
    private final long startedNanos = System.nanoTime();

    private volatile LayerState state = LayerState.HANDSHAKING;
    private volatile @Nullable Long handshakeMillis;
    private volatile @Nullable String protocol;
    private volatile @Nullable String cipher;
    private volatile @Nullable String peer;
    private volatile @Nullable PeerSans peerSans;
    private volatile @Nullable String failureReason;
    private volatile @Nullable String failureAlert;

    /** The peer's close_notify on this layer has arrived. */
    boolean inboundClosed;
    /** We sent close_notify to pop this layer and wait for the peer's answer. */
    boolean localPopRequested;
    /** The handler signalled close before the peer's close_notify arrived (see {@code LayerStack.onCloseNotify}). */
    boolean awaitingPeerClose;
    /** No longer in the stack. */
    boolean removed;
    /** Plaintext has come out of this layer (see {@code HandshakeAccounting.exceptionBehind}). */
    boolean receivedData;
    /** Alerts the peer sent on this layer in the clear during its handshake (see {@link AlertWatch}). */
    final AlertScanner alertsReceived = new AlertScanner();
    /** Alerts we sent on this layer in the clear during its handshake. */
    final AlertScanner alertsSent = new AlertScanner();
    /** Plaintext bytes per record, final once the handshake is done (see {@link RecordSizing}). */
    private int wrapDataSize;
    /** The frames of a layer with {@code padding: "on"} (see {@link ShapingHandler}), null for a plain layer. */
    private @Nullable ShapingHandler shaper;

    Layer(PreparedLayer prepared, SslHandler handler, String handlerName) {
        this.prepared = prepared;
        this.handler = handler;
        this.handlerName = handlerName;
    }

    PreparedLayer prepared() {
        return prepared;
    }

    public LayerSpec spec() {
        return prepared.spec();
    }

    public String name() {
        return prepared.spec().name();
    }

    public LayerState state() {
        return state;
    }

    /** Whether the layer's handshake finished and it has not failed: established, or closing. */
    boolean handshaken() {
        return state == LayerState.ESTABLISHED || state == LayerState.CLOSING;
    }

    public @Nullable String failureReason() {
        return failureReason;
    }

    /** Whether the alert that names the failure was {@code received} or {@code sent}; null if no alert names it. */
    public @Nullable String failureAlert() {
        return failureAlert;
    }

    TlsProvider provider() {
        return prepared.provider();
    }

    SslHandler handler() {
        return handler;
    }

    /** Whether the peer's close_notify has arrived on this layer. Event loop only. */
    boolean peerClosed() {
        return handler instanceof HalfCloseSslHandler halfClosing
                ? halfClosing.inboundClosed()
                : handler.engine().isInboundDone();
    }

    /** Whether our close_notify is out on this layer. Event loop only. */
    boolean ownCloseSent() {
        return handler instanceof HalfCloseSslHandler halfClosing
                ? halfClosing.outboundClosed()
                : handler.engine().isOutboundDone();
    }

    /**
     * Plaintext of one record that the layers inside may fill: on a shaped layer, a frame header less than the record
     * takes, so that one inner record still fills exactly one record of this layer.
     */
    int wrapDataSize() {
        return shaper != null ? wrapDataSize - ShapedFrames.HEADER : wrapDataSize;
    }

    /** Sets how much plaintext the handler puts in each record; kept here because the handler does not tell. */
    void wrapDataSize(int size) {
        wrapDataSize = size;
        handler.setWrapDataSize(size);
    }

    /** With {@code padding: "on"}: puts the frame handler right inside the layer's TLS handler. */
    void attachShaper(ChannelPipeline pipeline, LongConsumer onPadding) {
        if (spec().padding()) {
            RecordSizes sizes = spec().role() == Role.CLIENT ? RecordSizes.CLIENT : RecordSizes.SERVER;
            shaper = new ShapingHandler(new ShapingPolicy(sizes), () -> wrapDataSize, onPadding);
            pipeline.addAfter(handlerName, shaperName(), shaper);
        }
    }

    /** Takes the frame handler out, before the TLS handler: what follows the close_notify is not framed. */
    void detachShaper(ChannelPipeline pipeline) {
        if (shaper != null && pipeline.context(shaperName()) != null) {
            pipeline.remove(shaperName());
        }
    }

    /** A push, pop or teardown starts on the connection: a shaped layer shapes the next bytes it carries. */
    void shapeNextBurst() {
        if (shaper != null) {
            shaper.burst();
        }
    }

    /** Sends our close_notify on this layer, a shaped layer's close frame ahead of it. */
    ChannelFuture closeOutbound(ChannelPipeline pipeline) {
        ChannelHandlerContext framing = shaper != null ? pipeline.context(shaperName()) : null;
        if (framing != null) {
            shaper.sendClose(framing);
        }
        return handler.closeOutbound();
    }

    private String shaperName() {
        return handlerName + "-shaping";
    }

    String handlerName() {
        return handlerName;
    }

    String guardName() {
        return handlerName + "-guard";
    }

    /** The handler that holds writes while this layer is popped from our side. */
    String holdName() {
        return handlerName + "-hold";
    }

    /** The handler that reads the alerts of this layer's handshake. */
    String watchName() {
        return handlerName + "-watch";
    }

    long elapsedNanos() {
        return System.nanoTime() - startedNanos;
    }

    void established() {
        handshakeMillis = elapsedNanos() / 1_000_000;
        SSLSession session = handler.engine().getSession();
        protocol = session.getProtocol();
        cipher = session.getCipherSuite();
        X509Certificate leaf = peerLeaf(session);
        peer = leaf != null ? leaf.getSubjectX500Principal().getName() : null;
        peerSans = PeerSans.of(leaf);
        state = LayerState.ESTABLISHED;
    }

    void failed(String reason) {
        failed(reason, null);
    }

    void failed(String reason, @Nullable String alert) {
        failureReason = reason;
        failureAlert = alert;
        state = LayerState.FAILED;
    }

    void closing() {
        if (state != LayerState.FAILED) {
            state = LayerState.CLOSING;
        }
    }

    LayerStatus status(int index) {
        return new LayerStatus(
                index,
                name(),
                spec().role(),
                state,
                protocol,
                cipher,
                peer,
                prepared.provider(),
                handshakeMillis,
                failureReason,
                peerSans,
                shaper != null ? "on" : null,
                shaper != null ? shaper.paddingSent() : null,
                shaper != null ? shaper.paddingReceived() : null);
    }

    private static @Nullable X509Certificate peerLeaf(SSLSession session) {
        try {
            Certificate[] chain = session.getPeerCertificates();
            if (chain.length > 0 && chain[0] instanceof X509Certificate leaf) {
                return leaf;
            }
        } catch (SSLPeerUnverifiedException noCertificate) {
            // A server layer without client authentication has no peer certificate: nothing to show.
        }
        return null;
    }

    @Override
    public String toString() {
        return "Layer[" + name() + ", " + spec().role() + ", " + state + "]";
    }
}
