package dev.onionrelay.relay;

import java.time.Duration;

/**
 * Per-relay limits and timeouts.
 *
 * @param maxTunnels tunnels open at once; more connections are refused (closed at accept)
 * @param handshakeTimeout default handshake timeout of each layer
 * @param connectTimeout TCP connect timeout towards the target
 * @param idleTimeout a tunnel with no traffic either way for this long is closed
 * @param minIngressDepth minimum depth of the ingress stack (rule 3)
 * @param minEgressDepth minimum depth of the egress stack (rule 3)
 */
public record RelayOptions(
        int maxTunnels,
        Duration handshakeTimeout,
        Duration connectTimeout,
        Duration idleTimeout,
        int minIngressDepth,
        int minEgressDepth) {

    public static final int DEFAULT_MAX_TUNNELS = 1024;
    public static final Duration DEFAULT_HANDSHAKE_TIMEOUT = Duration.ofSeconds(10);
    public static final Duration DEFAULT_CONNECT_TIMEOUT = Duration.ofSeconds(5);
    public static final Duration DEFAULT_IDLE_TIMEOUT = Duration.ofMinutes(5);

    /** The longest connect timeout a relay may ask for. */
    public static final Duration MAX_CONNECT_TIMEOUT = Duration.ofMinutes(10);

    /** The longest idle timeout a relay may ask for: a week. */
    public static final Duration MAX_IDLE_TIMEOUT = Duration.ofDays(7);
}
