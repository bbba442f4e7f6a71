package dev.onionrelay.relay;

import dev.onionrelay.layer.LayerSpec;
import dev.onionrelay.layer.PreparedLayer;
import dev.onionrelay.relay.target.TargetBalancer;
import java.time.Duration;
import java.util.List;

/**
 * One revision of a relay's definition, whole and immutable: its spec, the prepared layers (TLS contexts) of both
 * sides, and the balancer of its fixed targets. A {@link Relay} holds the current one and swaps it in one write; a
 * {@link Tunnel} takes the current one once, when it is accepted, and reads only that one until it ends. So a tunnel
 * whose set-up straddles a {@code PUT /relays/{id}} never mixes two revisions (the ingress layers of one with the
 * target or egress layers of the next), and an open tunnel keeps its options (half-close mode, timeouts, minimum
 * depths) and shows the revision it runs.
 *
 * <p>The balancer belongs to the target list rather than to the revision: a replacement that keeps the targets keeps
 * it, so their up/down marks survive and tunnels of both revisions share them; one that changes the targets starts a
 * new one, because an index into the old list names another target in the new one. Tunnels of the old revision go on
 * marking the old balancer, which no new tunnel reads.
 */
public final class RelayDefinition {

    private final long revision;
    private final RelaySpec spec;
    private final List<PreparedLayer> ingress;
    private final List<PreparedLayer> egress;
    private final TargetBalancer balancer;

    private RelayDefinition(
            long revision,
            RelaySpec spec,
            List<PreparedLayer> ingress,
            List<PreparedLayer> egress,
            TargetBalancer balancer) {
        this.revision = revision;
        this.spec = spec;
        this.ingress = List.copyOf(ingress);
        this.egress = List.copyOf(egress);
        this.balancer = balancer;
    }

    /** Revision 1 of a relay: {@code spec} with its layers prepared; targets marked down stay down {@code downFor}. */
    static RelayDefinition first(
            RelaySpec spec, List<PreparedLayer> ingress, List<PreparedLayer> egress, Duration downFor) {
        return new RelayDefinition(1, spec, ingress, egress, new TargetBalancer(spec.target(), downFor));
    }

    /**
     * The definition that replaces this one ({@code PUT /relays/{id}}, or another fleet instance's replacement): the
     * balancer is kept when the targets are the same (see the class comment).
     */
    RelayDefinition next(
            RelaySpec nextSpec,
            List<PreparedLayer> nextIngress,
            List<PreparedLayer> nextEgress,
            long nextRevision,
            Duration downFor) {
        TargetBalancer kept =
                nextSpec.target().equals(spec.target()) ? balancer : new TargetBalancer(nextSpec.target(), downFor);
        return new RelayDefinition(nextRevision, nextSpec, nextIngress, nextEgress, kept);
    }

    /**
     * The same revision with other prepared layers for the same layer specs: contexts rebuilt after a credential's
     * key material changed, or built afresh for a relay that failed to open and tries again.
     */
    RelayDefinition withLayers(List<PreparedLayer> newIngress, List<PreparedLayer> newEgress) {
        return new RelayDefinition(revision, spec, newIngress, newEgress, balancer);
    }

    /** The same revision listening on {@code port}: an ephemeral port (0) pinned once bound. */
    RelayDefinition withListenPort(int port) {
        return new RelayDefinition(revision, spec.withListenPort(port), ingress, egress, balancer);
    }

    /** The same definition under the revision it has in the store (a restart, or another instance of a fleet). */
    RelayDefinition atRevision(long storedRevision) {
        return new RelayDefinition(storedRevision, spec, ingress, egress, balancer);
    }

    /**
     * Whether {@code newIngress} and {@code newEgress} are prepared from the same layer specs as this definition's
     * layers, in order: what {@link #withLayers} may put in their place without changing the definition.
     */
    boolean sameLayersAs(List<PreparedLayer> newIngress, List<PreparedLayer> newEgress) {
        return specs(ingress).equals(specs(newIngress)) && specs(egress).equals(specs(newEgress));
    }

    private static List<LayerSpec> specs(List<PreparedLayer> layers) {
        return layers.stream().map(PreparedLayer::spec).toList();
    }

    /** 1 when the relay was created, one more with every replacement. */
    public long revision() {
        return revision;
    }

    /** What the relay was asked to be, its listen port pinned once bound. */
    public RelaySpec spec() {
        return spec;
    }

    /** The layers a tunnel pushes on the client's connection, outermost first. */
    List<PreparedLayer> ingressLayers() {
        return ingress;
    }

    /** The layers a tunnel pushes on the target's connection, outermost first. */
    List<PreparedLayer> egressLayers() {
        return egress;
    }

    /** The order and up/down state of the fixed targets (shared with the revisions that keep them). */
    TargetBalancer balancer() {
        return balancer;
    }

    @Override
    public String toString() {
        return "RelayDefinition[" + spec.name() + " revision " + revision + "]";
    }
}
