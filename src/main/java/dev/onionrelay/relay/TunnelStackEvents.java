package dev.onionrelay.relay;

import dev.onionrelay.layer.Initiator;
import dev.onionrelay.layer.Layer;
import dev.onionrelay.layer.LayerStack;
import dev.onionrelay.layer.Side;
import dev.onionrelay.layer.StackListener;
import java.net.SocketAddress;
import java.time.Duration;
import java.time.Instant;
import org.jspecify.annotations.Nullable;

/**
 * Turns the stack events of one tunnel (both sides) into relay statistics and observer calls, and the few that steer
 * the tunnel into calls on it: the outermost ingress handshake admits the client, the end of a direction at the
 * minimum depth goes to its {@link TunnelEnding}, a protocol violation closes. Apart from {@link Tunnel} because it is
 * bookkeeping, not tunnel state.
 */
final class TunnelStackEvents implements StackListener {

    /** Named for the tunnel: operators filter on it for why a tunnel closed. */
    private static final System.Logger LOG = System.getLogger(Tunnel.class.getName());

    private final Tunnel tunnel;
    private final Relay relay;
    private final RelayObserver observer;
    private final TunnelAdmission admission;
    private final TunnelEnding ending;

    TunnelStackEvents(Tunnel tunnel, RelayObserver observer, TunnelAdmission admission, TunnelEnding ending) {
        this.tunnel = tunnel;
        this.relay = tunnel.relay();
        this.observer = observer;
        this.admission = admission;
        this.ending = ending;
    }

    @Override
    public void handshakeSucceeded(LayerStack stack, Layer layer, Duration took) {
        relay.stats().handshakesSucceeded.increment();
        observer.handshakeSucceeded(relay, stack.side(), layer.name(), took);
        if (stack.side() == Side.INGRESS) {
            // The outermost ingress handshake: the client has proved itself (once; later ones change nothing).
            admission.ingressHandshakeDone();
        }
    }

    @Override
    public void handshakeFailed(LayerStack stack, Layer layer, String reason, Throwable cause) {
        recordFailure(stack, layer.name(), reason, layer.failureAlert());
    }

    @Override
    public void handshakeNotStarted(LayerStack stack, String layer, String reason, Throwable cause) {
        recordFailure(stack, layer, reason, null);
    }

    private void recordFailure(LayerStack stack, String layer, String reason, @Nullable String alert) {
        recordFailure(relay, observer, stack.side(), stack.channel().remoteAddress(), layer, reason, alert);
    }

    /**
     * Counts a failed handshake of {@code layer}: in the relay's statistics and for the observer. Also for the outermost
     * ingress handshake that never started because of what came (or did not come) before it ({@link TunnelAdmission}).
     */
    static void recordFailure(
            Relay relay,
            RelayObserver observer,
            Side side,
            @Nullable SocketAddress peer,
            String layer,
            String reason,
            @Nullable String alert) {
        relay.stats()
                .recordFailure(new RelayStats.HandshakeFailure(
                        Instant.now(),
                        side.label(),
                        layer,
                        reason,
                        alert,
                        peer != null ? TunnelStatus.address(peer) : "unknown"));
        observer.handshakeFailed(relay, side, layer, reason, peer);
    }

    @Override
    public void pushed(LayerStack stack, Layer layer, Initiator initiator) {
        observer.layerPushed(relay, stack.side(), initiator);
    }

    @Override
    public void paddingSent(LayerStack stack, long bytes) {
        observer.paddingSent(relay, stack.side(), bytes);
    }

    @Override
    public void popped(LayerStack stack, Layer layer, Initiator initiator) {
        observer.layerPopped(relay, stack.side(), initiator);
    }

    @Override
    public void inboundEnded(LayerStack stack) {
        ending.inputEnded(stack.side());
    }

    @Override
    public void protocolViolation(LayerStack stack, String what) {
        LOG.log(
                System.Logger.Level.WARNING,
                "tunnel {0} of relay {1} closed: protocol violation by the {2} peer: {3}",
                tunnel.id(),
                tunnel.definition().spec().name(),
                stack.side().label(),
                what);
        observer.protocolViolation(relay, stack.side(), what);
        tunnel.close();
    }
}
