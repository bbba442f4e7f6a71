package dev.onionrelay.observe;

import dev.onionrelay.relay.Relay;
import dev.onionrelay.relay.RelayStats;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.jspecify.annotations.Nullable;

/**
 * What {@code GET /actuator/onion} returns: the field names of API.md's Actuator section, in its order; fields this
 * service adds come after them.
 *
 * @param instance this instance's name in its fleet
 * @param memberCount the live instances of its fleet, itself included (1 with the file store)
 */
public record OnionReport(
        int relayCount,
        int tunnelCount,
        String provider,
        LayerDepth layerDepth,
        Handshakes handshakes,
        List<RelayReport> relays,
        String instance,
        int memberCount) {

    /**
     * @param maxConfigured the deepest configured stack of any relay, either side
     * @param maxLive the deepest live stack of any open tunnel, either side (0 without tunnels)
     */
    public record LayerDepth(int maxConfigured, int maxLive) {}

    /** Handshakes of all relays; failures by reason value (see API.md). */
    public record Handshakes(long succeeded, long failed, Map<String, Long> failuresByReason) {}

    /**
     * One relay: {@code GET /actuator/onion/{relay}}.
     *
     * @param ingressDepth configured ingress layers
     * @param egressDepth configured egress layers
     * @param liveDepth shallowest and deepest live stack per side over the open tunnels
     * @param lastFailure the most recent handshake failure, or null
     * @param error why the relay is FAILED, else null
     * @param maxTunnels tunnels accepted at once (options.maxTunnels)
     * @param totalTunnels tunnels accepted since the relay opened
     * @param rejectedTunnels connections closed at accept (tunnel limit)
     * @param handshakesSucceeded successful handshakes, all layers
     * @param bytesIn plaintext bytes from clients towards the target
     * @param bytesOut plaintext bytes from the target back to clients
     */
    public record RelayReport(
            String id,
            String name,
            String state,
            int ingressDepth,
            int egressDepth,
            int activeTunnels,
            LiveDepth liveDepth,
            Failures handshakeFailures,
            RelayStats.@Nullable HandshakeFailure lastFailure,
            @Nullable String error,
            int maxTunnels,
            long totalTunnels,
            long rejectedTunnels,
            long handshakesSucceeded,
            long bytesIn,
            long bytesOut) {

        static RelayReport of(Relay relay) {
            RelayStats stats = relay.stats();
            LiveStacks live = LiveStacks.of(relay);
            return new RelayReport(
                    relay.id(),
                    relay.spec().name(),
                    relay.state().name(),
                    relay.spec().ingress().size(),
                    relay.spec().egress().size(),
                    stats.activeTunnels(),
                    new LiveDepth(DepthRange.of(live, live.ingress()), DepthRange.of(live, live.egress())),
                    new Failures(stats.handshakeFailures(), stats.failuresByLayer(), stats.failuresByReason()),
                    stats.lastFailure(),
                    relay.error(),
                    relay.spec().options().maxTunnels(),
                    stats.totalTunnels(),
                    stats.rejectedTunnels(),
                    stats.handshakesSucceeded(),
                    stats.bytesIn(),
                    stats.bytesOut());
        }
    }

    /** Live depth per side of one relay's open tunnels. */
    public record LiveDepth(DepthRange ingress, DepthRange egress) {}

    /**
     * The shallowest and deepest live stack of one side; both null while the relay has no open tunnel. A tunnel
     * whose target is not connected yet counts as depth 0 on the egress side.
     */
    public record DepthRange(
            @Nullable Integer min, @Nullable Integer max) {
        static DepthRange of(LiveStacks live, LiveStacks.Depths depths) {
            return live.tunnels() == 0 ? new DepthRange(null, null) : new DepthRange(depths.min(), depths.max());
        }
    }

    /**
     * @param byLayer failures keyed {@code side/layer}, e.g. {@code ingress/outer}
     * @param byReason failures keyed by reason value
     */
    public record Failures(long total, Map<String, Long> byLayer, Map<String, Long> byReason) {}

    /** The report over all relays, oldest relay first. */
    static OnionReport of(List<Relay> relays, String provider, String instance, int memberCount) {
        int tunnels = 0;
        int maxConfigured = 0;
        int maxLive = 0;
        long succeeded = 0;
        long failed = 0;
        Map<String, Long> byReason = new TreeMap<>();
        List<RelayReport> reports = new ArrayList<>(relays.size());
        for (Relay relay : relays) {
            RelayReport report = RelayReport.of(relay);
            reports.add(report);
            tunnels += report.activeTunnels();
            maxConfigured = Math.max(maxConfigured, Math.max(report.ingressDepth(), report.egressDepth()));
            maxLive = Math.max(maxLive, max(report.liveDepth().ingress()));
            maxLive = Math.max(maxLive, max(report.liveDepth().egress()));
            succeeded += report.handshakesSucceeded();
            failed += report.handshakeFailures().total();
            report.handshakeFailures().byReason().forEach((reason, count) -> byReason.merge(reason, count, Long::sum));
        }
        return new OnionReport(
                relays.size(),
                tunnels,
                provider,
                new LayerDepth(maxConfigured, maxLive),
                new Handshakes(succeeded, failed, byReason),
                reports,
                instance,
                memberCount);
    }

    private static int max(DepthRange range) {
        Integer max = range.max();
        return max == null ? 0 : max;
    }
}
