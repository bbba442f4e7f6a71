package dev.onionrelay.relay;

import dev.onionrelay.layer.Initiator;
import dev.onionrelay.layer.Side;
import java.net.SocketAddress;
import java.time.Duration;
import org.jspecify.annotations.Nullable;

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

    /** A shaped layer on {@code side} sent {@code bytes} of padding (docs/SHAPING.md). */
    default void paddingSent(Relay relay, Side side, long bytes) {}

    default void connectFailed(Relay relay, String reason) {}

    /**
     * A peer broke the stack's protocol (a close_notify on a layer that is not innermost while inner layers are open);
     * the tunnel is closed.
     *
     * @param what what the peer did, for logs; not a metric label
     */
    default void protocolViolation(Relay relay, Side side, String what) {}

    /**
     * A proxy-mode tunnel's request was answered: once per proxied tunnel, whether it was granted or not.
     *
     * @param client the client's address
     * @param mode {@code connect} or {@code socks5}
     * @param destination what the client asked for ({@code host:port}), null when its request could not be read
     * @param outcome {@code granted}, {@code denied}, {@code unreachable}, {@code timeout} or {@code bad_request}
     * @param detail why, for logs; not a metric label
     */
    default void proxyRequest(
            Relay relay, String client, String mode, @Nullable String destination, String outcome, String detail) {}

    /**
     * A tunnel tried one of the relay's fixed targets.
     *
     * @param index the target's position in the relay's targets
     * @param outcome {@code connected}, or why not: {@code refused}, {@code timeout}, {@code unresolved},
     *     {@code policy}, {@code other}
     */
    default void targetConnect(Relay relay, int index, String outcome) {}
}
