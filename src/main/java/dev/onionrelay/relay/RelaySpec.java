package dev.onionrelay.relay;

import dev.onionrelay.layer.LayerSpec;
import dev.onionrelay.layer.SpecProblem;
import dev.onionrelay.layer.TlsSettings;
import dev.onionrelay.relay.target.TargetSpec;
import dev.onionrelay.relay.upstream.Upstream;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;

/**
 * Everything that defines a relay: where it listens, the ingress stack it peels from every accepted connection, where
 * its tunnels go (fixed targets, or a proxy mode in which each client names its destination) and the egress stack it
 * wraps around every byte sent there. Defaults are already applied.
 * {@code upstream} says how the TCP connection reaches the target (through a plain HTTP proxy, with a PROXY protocol
 * header) before the first egress layer starts.
 */
public record RelaySpec(
        String name,
        Endpoint listen,
        TargetSpec target,
        List<LayerSpec> ingress,
        List<LayerSpec> egress,
        RelayOptions options,
        Upstream upstream) {

    /** A relay that connects to its target directly and sends nothing ahead of its egress layers. */
    public RelaySpec(
            String name,
            Endpoint listen,
            TargetSpec target,
            List<LayerSpec> ingress,
            List<LayerSpec> egress,
            RelayOptions options) {
        this(name, listen, target, ingress, egress, options, Upstream.DIRECT);
    }

    public RelaySpec {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(listen, "listen");
        Objects.requireNonNull(target, "target");
        ingress = List.copyOf(ingress);
        egress = List.copyOf(egress);
        Objects.requireNonNull(options, "options");
        // Absent in relays stored before it existed.
        upstream = Objects.requireNonNullElse(upstream, Upstream.DIRECT);
    }

    /**
     * Settings of the whole relay that can never work, with their field paths ({@code egress[1].name}): two layers of
     * one side with the same name (their status and metrics would merge), hosts that are not host names or
     * addresses. Empty when there are none.
     */
    public List<SpecProblem> problems() {
        List<SpecProblem> problems = new ArrayList<>();
        TlsSettings.host(problems, "listen.host", listen.host());
        List<Endpoint> targets = target.endpoints();
        for (int i = 0; i < targets.size(); i++) {
            TlsSettings.host(
                    problems,
                    targets.size() == 1 ? "target.host" : "target.targets[" + i + "].host",
                    targets.get(i).host());
        }
        if (upstream.via() != null) {
            TlsSettings.host(problems, "target.via.host", upstream.via().host());
        }
        for (int i = 0; i < egress.size(); i++) {
            if (egress.get(i).connect() != null) {
                try {
                    Endpoint hop = dev.onionrelay.relay.upstream.HostPort.parse(
                            egress.get(i).connect());
                    TlsSettings.host(problems, "egress[" + i + "].connect", hop.host());
                } catch (IllegalArgumentException e) {
                    problems.add(new SpecProblem("egress[" + i + "].connect", e.getMessage()));
                }
            }
        }
        for (int i = 0; i < ingress.size(); i++) {
            if (ingress.get(i).connect() != null) {
                problems.add(new SpecProblem(
                        "ingress[" + i + "].connect",
                        "only egress layers ask a proxy hop for a tunnel; an ingress layer cannot"));
            }
        }
        uniqueNames(problems, "ingress", ingress);
        uniqueNames(problems, "egress", egress);
        return problems;
    }

    private static void uniqueNames(List<SpecProblem> problems, String side, List<LayerSpec> layers) {
        Set<String> names = new HashSet<>();
        for (int i = 0; i < layers.size(); i++) {
            if (!names.add(layers.get(i).name())) {
                problems.add(new SpecProblem(
                        side + "[" + i + "].name",
                        "another " + side + " layer is named '" + layers.get(i).name()
                                + "' already; names label status and metrics, so they must differ"));
            }
        }
    }

    /** The same spec listening on {@code port}: how an ephemeral port (0) is pinned once bound. */
    public RelaySpec withListenPort(int port) {
        return new RelaySpec(name, new Endpoint(listen.host(), port), target, ingress, egress, options, upstream);
    }
}
