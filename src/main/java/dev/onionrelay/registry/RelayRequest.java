package dev.onionrelay.registry;

import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * Body of {@code POST /relays} (and of each {@code onion.relays[i]}): everything optional at the JSON level so that
 * validation can name every missing or wrong field at once.
 */
public record RelayRequest(
        @Nullable String name,
        @Nullable EndpointRequest listen,
        @Nullable TargetRequest target,
        @Nullable List<LayerRequest> ingress,
        @Nullable List<LayerRequest> egress,
        @Nullable OptionsRequest options) {

    /** Where a relay listens. */
    public record EndpointRequest(
            @Nullable String host, @Nullable Integer port) {}

    /**
     * Where a relay's tunnels go: {@code host} and {@code port}, or several {@code targets} tried in {@code balance}
     * order ({@code failover} or {@code round-robin}); or {@code mode} {@code connect} (HTTP CONNECT proxy) or
     * {@code socks5}, where each client names its destination. {@code via} is a plain HTTP proxy asked with CONNECT
     * for the target; {@code proxyProtocol} ({@code v1} or {@code v2}) sends the client's address ahead of everything
     * toward the target. One constructor only: Spring binds declared relays through it.
     */
    public record TargetRequest(
            @Nullable String host,
            @Nullable Integer port,
            @Nullable String mode,
            @Nullable List<EndpointRequest> targets,
            @Nullable String balance,
            @Nullable EndpointRequest via,
            @Nullable String proxyProtocol) {

        /**
         * One fixed target. A factory, not a second constructor: configuration binding (declared relays) needs a
         * record with exactly one constructor.
         */
        public static TargetRequest fixed(String host, int port) {
            return new TargetRequest(host, port, null, null, null, null, null);
        }
    }

    /** Relay options; durations as {@code PT10S} or {@code 10s}. */
    public record OptionsRequest(
            @Nullable Integer maxTunnels,
            @Nullable String handshakeTimeout,
            @Nullable String connectTimeout,
            @Nullable String idleTimeout,
            @Nullable MinDepthRequest minDepth,
            @Nullable String halfClose,
            @Nullable String halfCloseTimeout) {}

    /** Minimum depth per side (nobody can pop a tunnel below it); each defaults to the side's configured depth. */
    public record MinDepthRequest(
            @Nullable Integer ingress, @Nullable Integer egress) {}

    /** The same request with {@code relayName} as its name: a replacement's, whose name is the relay's. */
    public RelayRequest named(String relayName) {
        return new RelayRequest(relayName, listen, target, ingress, egress, options);
    }
}
