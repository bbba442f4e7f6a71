package dev.onionrelay.relay;

import dev.onionrelay.layer.LayerSpec;
import java.util.List;
import java.util.Objects;

/**
 * Everything that defines a relay: where it listens, the ingress stack it peels from every accepted connection, the
 * target it connects to and the egress stack it wraps around every byte sent there. Defaults are already applied.
 */
public record RelaySpec(
        String name,
        Endpoint listen,
        Endpoint target,
        List<LayerSpec> ingress,
        List<LayerSpec> egress,
        RelayOptions options) {

    public RelaySpec {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(listen, "listen");
        Objects.requireNonNull(target, "target");
        ingress = List.copyOf(ingress);
        egress = List.copyOf(egress);
        Objects.requireNonNull(options, "options");
    }

    /** The same spec listening on {@code port}: how an ephemeral port (0) is pinned once bound. */
    public RelaySpec withListenPort(int port) {
        return new RelaySpec(name, new Endpoint(listen.host(), port), target, ingress, egress, options);
    }
}
