package dev.onionrelay.relay.upstream;

import dev.onionrelay.relay.Endpoint;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * How a tunnel's TCP connection reaches its target before the first egress layer starts.
 *
 * @param via a plain HTTP proxy connected to instead of the target and asked with {@code CONNECT target} for it; null to
 *     connect to the target directly
 * @param proxyProtocol the PROXY protocol header sent first toward the target (after the via proxy's answer), carrying
 *     the original client's address; {@link ProxyProtocol#OFF} for none
 */
public record Upstream(@Nullable Endpoint via, ProxyProtocol proxyProtocol) {

    /** Straight to the target, nothing sent ahead of the first egress layer. */
    public static final Upstream DIRECT = new Upstream(null, ProxyProtocol.OFF);

    public Upstream {
        // Absent in relays stored before these settings existed.
        proxyProtocol = Objects.requireNonNullElse(proxyProtocol, ProxyProtocol.OFF);
    }
}
