package dev.onionrelay.relay;

import dev.onionrelay.layer.Initiator;
import dev.onionrelay.layer.Side;
import java.net.SocketAddress;
import java.time.Duration;

/**
 * Engine events for observability and persistence. Called on event loops: implementations must be quick and must
 * not block. Byte counts are not events: read them from {@link Relay#stats()}.
 */
public interface RelayObserver {

    RelayObserver NONE = new RelayObserver() {};

    default void tunnelOpened(Relay relay, Tunnel tunnel) {}

    default void tunnelClosed(Relay relay, Tunnel tunnel) {}

    default void tunnelRejected(Relay relay, String reason) {}

    default void handshakeSucceeded(Relay relay, Side side, String layer, Duration took) {}

    default void handshakeFailed(Relay relay, Side side, String layer, String reason, SocketAddress peer) {}

    default void layerPushed(Relay relay, Side side, Initiator initiator) {}

    default void layerPopped(Relay relay, Side side, Initiator initiator) {}

    default void connectFailed(Relay relay, String reason) {}

    /**
     * A peer broke the stack's protocol (a close_notify on a layer that is not innermost while inner layers are open);
     * the tunnel is closed.
     *
     * @param what what the peer did, for logs; not a metric label
     */
    default void protocolViolation(Relay relay, Side side, String what) {}
}
