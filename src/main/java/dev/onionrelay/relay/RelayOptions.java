package dev.onionrelay.relay;

import java.time.Duration;

/**
 * Per-relay limits and timeouts.
 *
 * @param maxTunnels tunnels open at once; more connections are refused (closed at accept)
 * @param handshakeTimeout default handshake timeout of each layer
 * @param connectTimeout TCP connect timeout towards the target
 * @param idleTimeout a tunnel with no traffic either way for this long is closed
 * @param minIngressDepth minimum depth of the ingress stack: a pop below it is refused, a close_notify there ends the direction
 * @param minEgressDepth minimum depth of the egress stack, likewise
 * @param halfClose how the client's end of its direction is passed on to the target
 * @param halfCloseTimeout with {@link HalfClose#HOLD}, how long the client's end is held at most
 */
public record RelayOptions(
        int maxTunnels,
        Duration handshakeTimeout,
        Duration connectTimeout,
        Duration idleTimeout,
        int minIngressDepth,
        int minEgressDepth,
        HalfClose halfClose,
        Duration halfCloseTimeout) {

    public static final int DEFAULT_MAX_TUNNELS = 1024;
    public static final HalfClose DEFAULT_HALF_CLOSE = HalfClose.PROPAGATE;
    public static final Duration DEFAULT_HALF_CLOSE_TIMEOUT = Duration.ofSeconds(30);

    /** Relays stored before the half-close choice existed read back with the defaults. */
    public RelayOptions {
        if (halfClose == null) {
            halfClose = DEFAULT_HALF_CLOSE;
        }
        if (halfCloseTimeout == null) {
            halfCloseTimeout = DEFAULT_HALF_CLOSE_TIMEOUT;
        }
    }

    /** Options with the default half-close behaviour (immediate propagation). */
    public RelayOptions(
            int maxTunnels,
            Duration handshakeTimeout,
            Duration connectTimeout,
            Duration idleTimeout,
            int minIngressDepth,
            int minEgressDepth) {
        this(
                maxTunnels,
                handshakeTimeout,
                connectTimeout,
                idleTimeout,
                minIngressDepth,
                minEgressDepth,
                DEFAULT_HALF_CLOSE,
                DEFAULT_HALF_CLOSE_TIMEOUT);
    }

    /** The same options with another half-close behaviour. */
    public RelayOptions withHalfClose(HalfClose mode, Duration timeout) {
        return new RelayOptions(
                maxTunnels,
                handshakeTimeout,
                connectTimeout,
                idleTimeout,
                minIngressDepth,
                minEgressDepth,
                mode,
                timeout);
    }

    /** The longest connect timeout a relay may ask for. */
    public static final Duration MAX_CONNECT_TIMEOUT = Duration.ofMinutes(10);

    /** The longest idle timeout a relay may ask for: a week. */
    public static final Duration MAX_IDLE_TIMEOUT = Duration.ofDays(7);
}
