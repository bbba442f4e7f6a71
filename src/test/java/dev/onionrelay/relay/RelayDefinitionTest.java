package dev.onionrelay.relay;

import static org.assertj.core.api.Assertions.assertThat;

import dev.onionrelay.layer.LayerSpec;
import dev.onionrelay.layer.PreparedLayer;
import dev.onionrelay.layer.TlsProvider;
import dev.onionrelay.relay.target.TargetSpec;
import dev.onionrelay.support.Layers;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * One revision of a relay's definition: what a replacement, a credential rotation and a bound port make of it, and
 * which of them keep the target balancer (with its up/down marks) that the tunnels of both revisions share.
 */
class RelayDefinitionTest {

    private static final Duration DOWN_FOR = Duration.ofMinutes(10);
    private static final TargetSpec TWO_TARGETS = new TargetSpec(
            TargetSpec.Mode.FIXED,
            List.of(new Endpoint("127.0.0.1", 7001), new Endpoint("127.0.0.1", 7002)),
            TargetSpec.Balance.FAILOVER);

    private static RelaySpec spec(TargetSpec target, List<LayerSpec> egress, RelayOptions options) {
        return new RelaySpec("entry", new Endpoint("127.0.0.1", 0), target, List.of(), egress, options);
    }

    private static RelayOptions options(int minIngress, int minEgress) {
        return new RelayOptions(
                100, Duration.ofSeconds(10), Duration.ofSeconds(5), Duration.ofMinutes(5), minIngress, minEgress);
    }

    /** Layers as the definition sees them; no TLS context is needed to compare or carry them. */
    private static List<PreparedLayer> prepared(List<LayerSpec> specs) {
        return specs.stream()
                .map(spec -> new PreparedLayer(spec, null, TlsProvider.JDK))
                .toList();
    }

    private static final List<LayerSpec> ONE_LAYER = List.of(Layers.client("outer", "ca", "localhost"));
    private static final List<LayerSpec> TWO_LAYERS =
            List.of(Layers.client("outer", "ca", "localhost"), Layers.client("inner", "ca", "localhost"));

    private final RelayDefinition first = RelayDefinition.first(
            spec(TWO_TARGETS, ONE_LAYER, options(0, 1)), List.of(), prepared(ONE_LAYER), DOWN_FOR);

    @Test
    void aReplacementKeepingTheTargetsKeepsTheirDownMarksAndLeavesTheOldRevisionAsItWas() {
        first.balancer().markDown(0);
        RelaySpec nextSpec = spec(TWO_TARGETS, TWO_LAYERS, options(0, 0).withHalfClose(HalfClose.HOLD, DOWN_FOR));

        RelayDefinition next = first.next(nextSpec, List.of(), prepared(TWO_LAYERS), 2, DOWN_FOR);

        assertThat(next.revision()).isEqualTo(2);
        assertThat(next.spec()).isEqualTo(nextSpec);
        assertThat(next.egressLayers()).hasSize(2);
        assertThat(next.balancer()).isSameAs(first.balancer());
        assertThat(next.balancer().order())
                .as("the target marked down under revision 1 is still tried last")
                .containsExactly(1, 0);
        // What a tunnel of revision 1 still reads.
        assertThat(first.revision()).isEqualTo(1);
        assertThat(first.egressLayers()).hasSize(1);
        assertThat(first.spec().options().halfClose()).isEqualTo(HalfClose.PROPAGATE);
        assertThat(first.spec().options().minEgressDepth()).isEqualTo(1);
    }

    @Test
    void aReplacementChangingTheTargetsStartsAFreshBalancer() {
        first.balancer().markDown(0);
        TargetSpec otherTargets = new TargetSpec(
                TargetSpec.Mode.FIXED,
                List.of(new Endpoint("127.0.0.1", 7003), new Endpoint("127.0.0.1", 7002)),
                TargetSpec.Balance.FAILOVER);
        TargetSpec sameTargetsRoundRobin =
                new TargetSpec(TargetSpec.Mode.FIXED, TWO_TARGETS.endpoints(), TargetSpec.Balance.ROUND_ROBIN);

        RelayDefinition moved =
                first.next(spec(otherTargets, ONE_LAYER, options(0, 1)), List.of(), List.of(), 2, DOWN_FOR);
        RelayDefinition rebalanced =
                first.next(spec(sameTargetsRoundRobin, ONE_LAYER, options(0, 1)), List.of(), List.of(), 2, DOWN_FOR);

        assertThat(moved.balancer()).isNotSameAs(first.balancer());
        assertThat(moved.balancer().order())
                .as("index 0 names another target now: its old mark does not apply")
                .containsExactly(0, 1);
        assertThat(rebalanced.balancer()).isNotSameAs(first.balancer());
        assertThat(first.balancer().order()).containsExactly(1, 0);
    }

    @Test
    void rotatedLayersABoundPortAndAStoredRevisionKeepEverythingElse() {
        List<PreparedLayer> rotated = prepared(ONE_LAYER);

        RelayDefinition withLayers = first.withLayers(List.of(), rotated);
        RelayDefinition bound = first.withListenPort(41000);
        RelayDefinition stored = first.atRevision(7);

        assertThat(withLayers.egressLayers()).containsExactlyElementsOf(rotated);
        assertThat(withLayers.revision()).isEqualTo(1);
        assertThat(withLayers.spec()).isEqualTo(first.spec());
        assertThat(withLayers.balancer()).isSameAs(first.balancer());
        assertThat(bound.spec().listen().port()).isEqualTo(41000);
        assertThat(bound.spec()).isEqualTo(first.spec().withListenPort(41000));
        assertThat(bound.revision()).isEqualTo(1);
        assertThat(bound.egressLayers()).isEqualTo(first.egressLayers());
        assertThat(stored.revision()).isEqualTo(7);
        assertThat(stored.spec()).isEqualTo(first.spec());
        assertThat(first.spec().listen().port()).isZero();
    }

    @Test
    void onlyLayersPreparedFromTheSameSpecsMayTakeTheirPlace() {
        assertThat(first.sameLayersAs(List.of(), prepared(ONE_LAYER))).isTrue();
        assertThat(first.sameLayersAs(List.of(), prepared(TWO_LAYERS))).isFalse();
        assertThat(first.sameLayersAs(prepared(ONE_LAYER), prepared(ONE_LAYER))).isFalse();
        assertThat(first.sameLayersAs(List.of(), prepared(List.of(Layers.client("outer", "ca", "example.org")))))
                .as("the same name with another server name")
                .isFalse();
    }
}
