package dev.onionrelay.layer;

import dev.onionrelay.layer.allow.AllowingTrustManager;
import dev.onionrelay.layer.allow.JdkFatalAlerts;
import dev.onionrelay.layer.allow.OpenSslFatalAlerts;
import dev.onionrelay.layer.allow.PeerRefusedException;
import dev.onionrelay.layer.shaping.ShapedAlpn;
import dev.onionrelay.layer.shaping.ShapedFrames;
import io.netty.channel.Channel;
import io.netty.handler.ssl.SslContext;
import java.io.IOException;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.WeakHashMap;
import java.util.concurrent.RejectedExecutionException;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLHandshakeException;

/**
 * Tells the stack's owner how each layer's handshake ended, once per layer: succeeded (with how long it took), failed
 * (with the reason, named by the alerts on the wire where there are any, see {@link AlertWatch} and
 * {@link HandshakeFailures}) or could not start. Apart from {@link LayerStack} because it is bookkeeping for metrics
 * and events: the stack rules (push, pop, close_notify ordering) do not depend on it, and the many ways a handshake
 * ends (a future that fails, an alert after a TLS 1.3 client's handshake succeeded, a reset, a FIN, our own teardown)
 * read best side by side. Event loop only, like the stack.
 */
final class HandshakeAccounting {

    /** {@code no_application_protocol}, RFC 8446 section 6. */
    private static final byte NO_APPLICATION_PROTOCOL = 120;

    /** Under the stack's name: where operators already look for (and filter) these lines. */
    private static final System.Logger LOG = System.getLogger(LayerStack.class.getName());

    /** Layer configurations whose handshake could not start, logged once each. */
    private static final Map<SslContext, Boolean> UNSTARTABLE = new WeakHashMap<>();

    private final LayerStack stack;
    private final Channel channel;
    private final StackListener listener;
    /** The stack's layers, outermost first; read only here. */
    private final List<Layer> layers;

    private boolean abandoned;
    private Throwable lastException;

    HandshakeAccounting(LayerStack stack, List<Layer> layers, StackListener listener) {
        this.stack = stack;
        this.channel = stack.channel();
        this.layers = layers;
        this.listener = listener;
    }

    /** The tunnel is being torn down by us: later handshake failures are consequences, not failures to count. */
    void abandon() {
        abandoned = true;
    }

    /**
     * A layer whose handshake cannot even start: its TLS engine cannot be made from its settings (a protocol no engine
     * knows, say), so nothing reaches the wire and there is no alert. Counted as {@code other} on every connection,
     * logged once per layer configuration.
     */
    void notStarted(PreparedLayer prepared, RuntimeException cause) {
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
                    stack.side().label(),
                    cause.toString());
        }
        listener.handshakeNotStarted(stack, prepared.spec().name(), HandshakeFailures.OTHER, cause);
    }

    /** {@code layer}'s handshake succeeded (and its records are sized): it is established from now on. */
    void succeeded(Layer layer) {
        AllowingTrustManager allow = layer.prepared().allow();
        if (allow != null && layer.spec().role() == Role.SERVER) {
            PeerRefusedException refused =
                    allow.refuseWithoutCertificate(layer.handler().engine());
            if (refused != null) {
                // Failed, not established: the stack goes no further (LayerStack.pushFrom). The flush sends the
                // access_denied alert the engine holds before the close: the OpenSSL engine would drop it on close.
                reportFailure(layer, refused);
                channel.flush();
                channel.close();
                return;
            }
        }
        if (layer.spec().padding() && !ShapedAlpn.negotiated(layer.handler().engine())) {
            // A peer that offered no ALPN, or (OpenSSL, JDK) another protocol, passes the engines' own check: the layer
            // fails with the alert the contract names, sent where the engine can be made to (flushed before the close),
            // and never carries a byte.
            SSLEngine engine = layer.handler().engine();
            String why = "the peer did not negotiate " + ShapedFrames.ALPN + " for a layer with padding on";
            if (!JdkFatalAlerts.sendNoApplicationProtocol(engine, why)) {
                OpenSslFatalAlerts.send(engine, NO_APPLICATION_PROTOCOL);
            }
            reportFailure(layer, new SSLHandshakeException("no_application_protocol: " + why));
            channel.flush();
            channel.close();
            return;
        }
        layer.established();
        listener.handshakeSucceeded(stack, layer, Duration.ofNanos(layer.elapsedNanos()));
    }

    /** {@code layer}'s handshake future failed with {@code cause}. */
    void failed(Layer layer, Throwable cause) {
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
        } catch (RejectedExecutionException shuttingDown) {
            reportFailure(layer, cause);
        }
    }

    private void reportFailure(Layer layer, Throwable cause) {
        unwatch(layer);
        int received = layer.alertsReceived.lastAlert();
        int sent = layer.alertsSent.lastAlert();
        String reason = HandshakeFailures.reason(cause, received, sent);
        layer.failed(reason, HandshakeFailures.alertDirection(cause, received, sent));
        listener.handshakeFailed(stack, layer, reason, cause);
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
    void connectionLost(Throwable cause) {
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

    /** The handshake of {@code layer} is over: its alerts no longer need reading. */
    void unwatch(Layer layer) {
        if (channel.pipeline().context(layer.watchName()) != null) {
            channel.pipeline().remove(layer.watchName());
        }
    }

    /**
     * An exception passed the guard right behind {@code layer}. The first guard to see an exception is the one of
     * the layer that raised it. A TLS 1.3 client finishes its handshake when it has sent its Finished, so a server
     * that rejects its certificate answers with an alert after the handshake future succeeded: an SSL failure on an
     * established layer that has not carried any data yet is still that layer's handshake failure.
     */
    void exceptionBehind(Layer layer, Throwable cause) {
        if (cause == lastException) {
            return;
        }
        lastException = cause;
        if (cause instanceof IOException && !isTlsFailure(cause)) {
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
            if (t instanceof SSLException) {
                return true;
            }
        }
        return false;
    }
}
