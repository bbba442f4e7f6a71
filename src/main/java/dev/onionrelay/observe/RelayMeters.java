package dev.onionrelay.observe;

import dev.onionrelay.layer.Initiator;
import dev.onionrelay.layer.LayerSpec;
import dev.onionrelay.layer.Side;
import dev.onionrelay.layer.TlsProvider;
import dev.onionrelay.relay.Relay;
import dev.onionrelay.relay.RelayState;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.Timer;
import java.time.Duration;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * The meters of one relay. Gauges and byte counters read the relay itself at scrape time; event counters and the
 * handshake histogram are updated by {@link OnionMetrics} from engine events, on event loops, through lock-free
 * caches. Every meter it registers is kept so that {@link #close} can remove them all when the relay goes away.
 *
 * <p>Label values are bounded: the relay's name, {@code ingress}/{@code egress}, the names of the layers configured on
 * that side (a layer pushed at runtime under any other name is {@value #PUSHED}), and reason values from closed sets
 * (anything that is not a short lower-case word becomes {@code other}).
 */
final class RelayMeters {

    /** The layer label of a layer pushed at runtime whose name is not one of the side's configured layers. */
    static final String PUSHED = "pushed";

    /** Handshake histogram buckets: loopback handshakes take a few milliseconds, the default timeout is 10 s. */
    static final Duration[] HANDSHAKE_BUCKETS = {
        Duration.ofMillis(1),
        Duration.ofMillis(2),
        Duration.ofMillis(5),
        Duration.ofMillis(10),
        Duration.ofMillis(25),
        Duration.ofMillis(50),
        Duration.ofMillis(100),
        Duration.ofMillis(250),
        Duration.ofMillis(500),
        Duration.ofSeconds(1),
        Duration.ofMillis(2500),
        Duration.ofSeconds(5),
        Duration.ofSeconds(10)
    };

    /** Both sides' live-layer gauges of one scrape share one pass over the tunnels. */
    private static final Duration LIVE_STACKS_REUSE = Duration.ofMillis(100);

    private static final Pattern REASON = Pattern.compile("[a-z][a-z0-9_]{0,39}");

    private final MeterRegistry registry;
    private final Relay relay;
    private final String name;
    private final Tags relayTags;
    private final Map<Side, Set<String>> configuredLayers = new EnumMap<>(Side.class);
    private final List<Meter> meters = new CopyOnWriteArrayList<>();
    private final ConcurrentHashMap<LayerKey, LayerMeters> layers = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<String, Counter> connectFailures = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<String, Counter> rejections = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<String, Counter> proxyRequests = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<String, Counter> targetConnects = new ConcurrentHashMap<>();
    private final Map<Side, Counter> violations = new ConcurrentHashMap<>();
    private final Map<Side, Map<Initiator, Counter>> pushes = new EnumMap<>(Side.class);
    private final Map<Side, Map<Initiator, Counter>> pops = new EnumMap<>(Side.class);
    private final Map<Side, Counter> padding = new EnumMap<>(Side.class);
    private volatile boolean closed;
    private volatile LiveStacks live =
            new LiveStacks(0, new LiveStacks.Depths(0, 0, 0, 0), new LiveStacks.Depths(0, 0, 0, 0));
    private volatile long liveAt = System.nanoTime() - LIVE_STACKS_REUSE.toNanos();

    private record LayerKey(Side side, String layer) {}

    /** The counters and histogram of one layer label on one side. */
    private final class LayerMeters {
        final Tags tags;
        final Counter succeeded;
        final Counter failed;
        final Timer duration;
        final ConcurrentHashMap<String, Counter> failuresByReason = new ConcurrentHashMap<>();

        LayerMeters(Side side, String layer) {
            tags = relayTags.and("side", side.label(), "layer", layer);
            succeeded = keep(Counter.builder("onion.handshakes")
                    .description("TLS handshakes per layer, by outcome")
                    .tags(tags)
                    .tag("outcome", "success")
                    .register(registry));
            failed = keep(Counter.builder("onion.handshakes")
                    .description("TLS handshakes per layer, by outcome")
                    .tags(tags)
                    .tag("outcome", "failure")
                    .register(registry));
            duration = keep(Timer.builder("onion.handshake")
                    .description("Duration of successful TLS handshakes per layer")
                    .tags(tags)
                    .serviceLevelObjectives(HANDSHAKE_BUCKETS)
                    .register(registry));
        }

        Counter failures(String reason) {
            return failuresByReason.computeIfAbsent(
                    reason,
                    r -> keep(Counter.builder("onion.handshake.failures")
                            .description(
                                    "Failed TLS handshakes per layer, by reason (TLS alert name, timeout, not_tls, "
                                            + "peer_closed, other)")
                            .tags(tags)
                            .tag("reason", r)
                            .register(registry)));
        }
    }

    RelayMeters(MeterRegistry registry, Relay relay) {
        this.registry = registry;
        this.relay = relay;
        this.name = relay.spec().name();
        this.relayTags = Tags.of("relay", name);
        configuredLayers.put(Side.INGRESS, names(relay.spec().ingress()));
        configuredLayers.put(Side.EGRESS, names(relay.spec().egress()));

        keep(Gauge.builder("onion.tunnels.active", relay, r -> r.stats().activeTunnels())
                .description("Open tunnels")
                .tags(relayTags)
                .strongReference(true)
                .register(registry));
        keep(Gauge.builder("onion.tunnels.pending", relay, r -> r.stats().pendingTunnels())
                .description("Connections accepted whose outermost ingress handshake (without ingress layers: first"
                        + " byte) is still to come; they do not count against options.maxTunnels")
                .tags(relayTags)
                .strongReference(true)
                .register(registry));
        keep(Gauge.builder("onion.tunnels.limit", relay, r -> r.spec().options().maxTunnels())
                .description("Tunnels the relay admits at once (options.maxTunnels); more are closed at admission")
                .tags(relayTags)
                .strongReference(true)
                .register(registry));
        keep(FunctionCounter.builder(
                        "onion.tunnels.opened", relay, r -> r.stats().totalTunnels())
                .description("Tunnels accepted since the relay opened")
                .tags(relayTags)
                .register(registry));
        keep(FunctionCounter.builder("onion.bytes", relay, r -> r.stats().bytesIn())
                .description("Plaintext bytes relayed: in = from clients towards the target, out = back to clients")
                .tags(relayTags)
                .tag("direction", "in")
                .register(registry));
        keep(FunctionCounter.builder("onion.bytes", relay, r -> r.stats().bytesOut())
                .description("Plaintext bytes relayed: in = from clients towards the target, out = back to clients")
                .tags(relayTags)
                .tag("direction", "out")
                .register(registry));
        for (RelayState state : RelayState.values()) {
            keep(Gauge.builder("onion.relay.state", relay, r -> r.state() == state ? 1 : 0)
                    .description("1 for the state the relay is in (LISTENING, FAILED, STOPPED), else 0")
                    .tags(relayTags)
                    .tag("state", state.name())
                    .strongReference(true)
                    .register(registry));
        }
        for (Side side : Side.values()) {
            Tags sideTags = relayTags.and("side", side.label());
            int configured = side == Side.INGRESS
                    ? relay.spec().ingress().size()
                    : relay.spec().egress().size();
            keep(Gauge.builder("onion.layer.depth", () -> configured)
                    .description("Configured layers per side")
                    .tags(sideTags)
                    .register(registry));
            keep(Gauge.builder("onion.layers.active", this, meters -> meters.liveStacks()
                            .side(side)
                            .layers())
                    .description("Live layers summed over open tunnels, per side")
                    .tags(sideTags)
                    .strongReference(true)
                    .register(registry));
            for (TlsProvider provider : TlsProvider.values()) {
                keep(Gauge.builder("onion.layers.active.by.provider", this, meters -> {
                            LiveStacks.Depths depths = meters.liveStacks().side(side);
                            return provider == TlsProvider.OPENSSL
                                    ? depths.openSslLayers()
                                    : depths.layers() - depths.openSslLayers();
                        })
                        .description("Live layers summed over open tunnels, per side and TLS engine")
                        .tags(sideTags)
                        .tag("provider", provider.name())
                        .strongReference(true)
                        .register(registry));
            }
            pushes.put(side, perInitiator("onion.layer.pushes", "Layers pushed on live tunnels (startTLS)", sideTags));
            pops.put(side, perInitiator("onion.layer.pops", "Layers popped from live tunnels (stopTLS)", sideTags));
            padding.put(
                    side,
                    keep(Counter.builder("onion.shaping.padding.bytes")
                            .description("Padding and close-frame bytes sent on shaped layers (padding: on)")
                            .tags(sideTags)
                            .register(registry)));
            for (String layer : configuredLayers.get(side)) {
                layer(side, layer);
            }
        }
    }

    private static Set<String> names(List<LayerSpec> layers) {
        return layers.stream().map(LayerSpec::name).collect(Collectors.toUnmodifiableSet());
    }

    private Map<Initiator, Counter> perInitiator(String meter, String description, Tags sideTags) {
        Map<Initiator, Counter> counters = new EnumMap<>(Initiator.class);
        for (Initiator initiator : Initiator.values()) {
            counters.put(
                    initiator,
                    keep(Counter.builder(meter)
                            .description(description)
                            .tags(sideTags)
                            .tag("initiator", initiator.label())
                            .register(registry)));
        }
        return counters;
    }

    Relay relay() {
        return relay;
    }

    String name() {
        return name;
    }

    /** The relay's live stacks, gathered at most once per {@link #LIVE_STACKS_REUSE}. */
    private LiveStacks liveStacks() {
        long now = System.nanoTime();
        if (now - liveAt >= LIVE_STACKS_REUSE.toNanos()) {
            live = LiveStacks.of(relay);
            liveAt = now;
        }
        return live;
    }

    /** The layer label: the name of a configured layer of that side, else {@value #PUSHED}. */
    String layerLabel(Side side, String layer) {
        return configuredLayers.get(side).contains(layer) ? layer : PUSHED;
    }

    private LayerMeters layer(Side side, String layer) {
        String label = layerLabel(side, layer);
        return layers.computeIfAbsent(new LayerKey(side, label), key -> new LayerMeters(side, label));
    }

    void handshakeSucceeded(Side side, String layer, Duration took) {
        LayerMeters meters = layer(side, layer);
        meters.succeeded.increment();
        meters.duration.record(took);
    }

    void handshakeFailed(Side side, String layer, String reason) {
        LayerMeters meters = layer(side, layer);
        meters.failed.increment();
        meters.failures(bounded(reason)).increment();
    }

    void layerPushed(Side side, Initiator initiator) {
        pushes.get(side).get(initiator).increment();
    }

    void paddingSent(Side side, long bytes) {
        padding.get(side).increment(bytes);
    }

    void layerPopped(Side side, Initiator initiator) {
        pops.get(side).get(initiator).increment();
    }

    void connectFailed(String reason) {
        connectFailures
                .computeIfAbsent(
                        bounded(reason),
                        r -> keep(Counter.builder("onion.connect.failures")
                                .description(
                                        "Failed connects to the target, by reason (refused, timeout, unresolved, policy, "
                                                + "other; proxy_refused, proxy_timeout, proxy_closed, proxy_bad_answer"
                                                + " through an HTTP proxy)")
                                .tags(relayTags)
                                .tag("reason", r)
                                .register(registry)))
                .increment();
    }

    /** A proxy-mode request's outcome; the destination is never a label (it is in the audit log). */
    void proxyRequest(String mode, String outcome) {
        String m = bounded(mode);
        String o = bounded(outcome);
        proxyRequests
                .computeIfAbsent(
                        m + " " + o,
                        key -> keep(Counter.builder("onion.proxy.requests")
                                .description("Proxy-mode requests (CONNECT, SOCKS5) by outcome (granted, denied, "
                                        + "unreachable, timeout, bad_request)")
                                .tags(relayTags)
                                .tag("mode", m)
                                .tag("outcome", o)
                                .register(registry)))
                .increment();
    }

    /** A connect to one of the relay's fixed targets, by its index and outcome. */
    void targetConnect(int index, String outcome) {
        String o = bounded(outcome);
        targetConnects
                .computeIfAbsent(
                        index + " " + o,
                        key -> keep(Counter.builder("onion.target.connects")
                                .description("Connects to the relay's fixed targets by target index and outcome "
                                        + "(connected, refused, timeout, unresolved, policy, other)")
                                .tags(relayTags)
                                .tag("target", Integer.toString(index))
                                .tag("outcome", o)
                                .register(registry)))
                .increment();
    }

    void protocolViolation(Side side) {
        violations
                .computeIfAbsent(
                        side,
                        s -> keep(Counter.builder("onion.protocol.violations")
                                .description(
                                        "Tunnels closed because a peer broke the stack's protocol (a close_notify on a "
                                                + "layer that is not innermost while inner layers are open), by side")
                                .tags(relayTags)
                                .tag("side", s.label())
                                .register(registry)))
                .increment();
    }

    void tunnelRejected(String reason) {
        rejections
                .computeIfAbsent(
                        bounded(reason),
                        r -> keep(Counter.builder("onion.tunnels.rejected")
                                .description("Connections refused or given up before their tunnel opened, by reason "
                                        + "(max_pending, max_pending_per_client, first_byte_timeout, max_tunnels, "
                                        + "max_tunnels_total, direct_memory, setup_timeout, stopped, error)")
                                .tags(relayTags)
                                .tag("reason", r)
                                .register(registry)))
                .increment();
    }

    /** Reason values come from closed sets in the engine; anything else is not let through as a label value. */
    static String bounded(String reason) {
        return REASON.matcher(reason).matches() ? reason : "other";
    }

    /** Removes every meter of this relay; meters created by events that race with this are removed too. */
    void close() {
        closed = true;
        meters.forEach(registry::remove);
    }

    private <M extends Meter> M keep(M meter) {
        meters.add(meter);
        if (closed) {
            registry.remove(meter);
        }
        return meter;
    }
}
