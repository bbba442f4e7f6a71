package dev.onionrelay.relay.target;

import dev.onionrelay.relay.Endpoint;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * Where a relay's tunnels go: one or more fixed endpoints (tried in {@link Balance} order, a target that refuses or
 * times out skipped for that tunnel), or a proxy mode in which each client names its destination inside the innermost
 * ingress layer (an HTTP {@code CONNECT} request or a SOCKS5 handshake) and the destination is checked per tunnel.
 *
 * @param endpoints the fixed targets, in order; empty in the proxy modes
 */
public record TargetSpec(Mode mode, List<Endpoint> endpoints, Balance balance) {

    /** How a tunnel learns where to connect. */
    public enum Mode {
        /** The configured endpoints. */
        FIXED,
        /** One HTTP/1.1 {@code CONNECT host:port} request from the client. */
        CONNECT,
        /** A SOCKS5 (RFC 1928) {@code CONNECT} from the client. */
        SOCKS5;

        /** The API's name: {@code fixed}, {@code connect}, {@code socks5}. */
        public String label() {
            return name().toLowerCase(Locale.ROOT);
        }

        public static @Nullable Mode named(String label) {
            for (Mode mode : values()) {
                if (mode.label().equals(label)) {
                    return mode;
                }
            }
            return null;
        }
    }

    /** The order in which several fixed targets are tried. */
    public enum Balance {
        /** Always from the first; a target that is down is tried after those that are not. */
        FAILOVER,
        /** Each tunnel starts one further along than the one before. */
        ROUND_ROBIN;

        /** The API's name: {@code failover}, {@code round-robin}. */
        public String label() {
            return name().toLowerCase(Locale.ROOT).replace('_', '-');
        }

        public static @Nullable Balance named(String label) {
            for (Balance balance : values()) {
                if (balance.label().equals(label)) {
                    return balance;
                }
            }
            return null;
        }
    }

    public TargetSpec {
        Objects.requireNonNull(mode, "mode");
        endpoints = List.copyOf(endpoints);
        Objects.requireNonNull(balance, "balance");
        if (mode == Mode.FIXED && endpoints.isEmpty()) {
            throw new IllegalArgumentException("a fixed target needs at least one endpoint");
        }
        if (mode != Mode.FIXED && !endpoints.isEmpty()) {
            throw new IllegalArgumentException("a proxy-mode target has no fixed endpoints");
        }
    }

    /** One fixed endpoint: the original {@code {"host","port"}} target. */
    public static TargetSpec fixed(Endpoint endpoint) {
        return new TargetSpec(Mode.FIXED, List.of(endpoint), Balance.FAILOVER);
    }

    /** A proxy mode: each client names its destination. */
    public static TargetSpec proxy(Mode mode) {
        return new TargetSpec(mode, List.of(), Balance.FAILOVER);
    }

    /** Whether clients name their destination (CONNECT or SOCKS5). */
    public boolean isProxy() {
        return mode != Mode.FIXED;
    }

    /** The first fixed endpoint, or null in the proxy modes. */
    public @Nullable Endpoint first() {
        return endpoints.isEmpty() ? null : endpoints.get(0);
    }

    @Override
    public String toString() {
        return isProxy()
                ? mode.label()
                : endpoints.size() == 1 ? endpoints.get(0).toString() : endpoints + " " + balance.label();
    }
}
