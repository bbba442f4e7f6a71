package dev.onionrelay.relay;

import dev.onionrelay.layer.LayerSpec;
import dev.onionrelay.layer.SpecProblem;
import dev.onionrelay.layer.TlsSettings;
import dev.onionrelay.relay.target.TargetSpec;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;

/**
 * Everything that defines a relay: where it listens, the ingress stack it peels from every accepted connection, where
 * its tunnels go (fixed targets, or a proxy mode in which each client names its destination) and the egress stack it wraps around every byte sent there. Defaults are already applied.
 */
public record RelaySpec(
        String name,
        Endpoint listen,
        TargetSpec target,
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
        return new RelaySpec(name, new Endpoint(listen.host(), port), target, ingress, egress, options);
    }
}
