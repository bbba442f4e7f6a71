package dev.onionrelay.observe;

import dev.onionrelay.layer.Initiator;
import dev.onionrelay.layer.Side;
import dev.onionrelay.registry.RelayRegistry;
import dev.onionrelay.relay.DescriptorExhaustion;
import dev.onionrelay.relay.DirectMemoryLimit;
import dev.onionrelay.relay.OnionEngine;
import dev.onionrelay.relay.Relay;
import dev.onionrelay.relay.RelayObserver;
import dev.onionrelay.relay.RelayState;
import dev.onionrelay.relay.Tunnel;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import java.net.SocketAddress;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.jspecify.annotations.Nullable;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.context.SmartLifecycle;
import org.springframework.stereotype.Component;

/**
 * The {@code onion_*} metrics of API.md, registered with Micrometer (and so scraped at {@code /actuator/prometheus}).
 *
 * <p>Engine events (handshakes, failures by reason, pushes, pops, connect failures, rejections) arrive through
 * {@link RelayObserver} on event loops and only increment cached meters. Gauges and byte counters read each relay's
 * statistics and live stacks when scraped. The set of relays is kept in step with {@link RelayRegistry} once a
 * second (and at a relay's first event), so that an idle relay gets its series and a deleted one loses them: the
 * label set stays bounded by the relays that exist.
 *
 * <p>Labels: {@code relay} is the relay's name, {@code layer} the name of a layer configured on that side, or
 * {@value RelayMeters#PUSHED} for a layer pushed at runtime under any other name (pushed names come from API callers
 * and are not bounded by configuration). Peer addresses and tunnel ids are never labels; {@code /actuator/onion}
 * shows the last failing peer instead.
 */
@Component
public class OnionMetrics implements RelayObserver, SmartLifecycle {

    private static final System.Logger LOG = System.getLogger(OnionMetrics.class.getName());

    /** How often the set of relays with series is brought in line with the registry of relays. */
    static final Duration REFRESH = Duration.ofSeconds(1);

    private final MeterRegistry registry;
    private final ObjectProvider<RelayRegistry> service;
    private final ConcurrentHashMap<String, RelayMeters> byName = new ConcurrentHashMap<>();
    private @Nullable ScheduledExecutorService refresher;

    /** The service is looked up when the context starts: it is built with this observer among its observers. */
    public OnionMetrics(MeterRegistry registry, ObjectProvider<RelayRegistry> service) {
        this.registry = registry;
        this.service = service;
    }

    // --- engine events -------------------------------------------------------------------------------------------

    @Override
    public void tunnelRejected(Relay relay, String reason) {
        RelayMeters meters = meters(relay);
        if (meters != null) {
            meters.tunnelRejected(reason);
        }
    }

    @Override
    public void tunnelOpened(Relay relay, Tunnel tunnel) {
        // Counted from the relay's statistics; this makes a relay's series appear at its first tunnel.
        meters(relay);
    }

    @Override
    public void handshakeSucceeded(Relay relay, Side side, String layer, Duration took) {
        RelayMeters meters = meters(relay);
        if (meters != null) {
            meters.handshakeSucceeded(side, layer, took);
        }
    }

    @Override
    public void handshakeFailed(Relay relay, Side side, String layer, String reason, SocketAddress peer) {
        RelayMeters meters = meters(relay);
        if (meters != null) {
            meters.handshakeFailed(side, layer, reason);
        }
    }

    @Override
    public void layerPushed(Relay relay, Side side, Initiator initiator) {
        RelayMeters meters = meters(relay);
        if (meters != null) {
            meters.layerPushed(side, initiator);
        }
    }

    @Override
    public void layerPopped(Relay relay, Side side, Initiator initiator) {
        RelayMeters meters = meters(relay);
        if (meters != null) {
            meters.layerPopped(side, initiator);
        }
    }

    @Override
    public void paddingSent(Relay relay, Side side, long bytes) {
        RelayMeters meters = meters(relay);
        if (meters != null) {
            meters.paddingSent(side, bytes);
        }
    }

    @Override
    public void connectFailed(Relay relay, String reason) {
        RelayMeters meters = meters(relay);
        if (meters != null) {
            meters.connectFailed(reason);
        }
    }

    @Override
    public void proxyRequest(
            Relay relay, String client, String mode, @Nullable String destination, String outcome, String detail) {
        RelayMeters meters = meters(relay);
        if (meters != null) {
            meters.proxyRequest(mode, outcome);
        }
    }

    @Override
    public void targetConnect(Relay relay, int index, String outcome) {
        RelayMeters meters = meters(relay);
        if (meters != null) {
            meters.targetConnect(index, outcome);
        }
    }

    @Override
    public void protocolViolation(Relay relay, Side side, String what) {
        RelayMeters meters = meters(relay);
        if (meters != null) {
            meters.protocolViolation(side);
        }
    }

    /** The meters of a relay, registering them at its first event; none for a relay that was stopped (deleted). */
    private @Nullable RelayMeters meters(Relay relay) {
        RelayMeters current = byName.get(relay.spec().name());
        if (current != null && current.relay() == relay) {
            return current;
        }
        return track(relay);
    }

    private synchronized @Nullable RelayMeters track(Relay relay) {
        if (relay.state() == RelayState.STOPPED) {
            return null;
        }
        String name = relay.spec().name();
        RelayMeters current = byName.get(name);
        if (current != null && current.relay() == relay) {
            return current;
        }
        if (current != null) {
            // The name was given to a new relay: the old one's series go, the new one's start from zero.
            current.close();
        }
        RelayMeters fresh = new RelayMeters(registry, relay);
        byName.put(name, fresh);
        return fresh;
    }

    /** Registers series for relays that have none yet and removes those of relays that no longer exist. */
    synchronized void refresh() {
        RelayRegistry relays = service.getIfAvailable();
        if (relays == null) {
            return;
        }
        Map<String, Relay> live = new HashMap<>();
        for (Relay relay : relays.list()) {
            if (relay.state() != RelayState.STOPPED) {
                live.put(relay.spec().name(), relay);
            }
        }
        byName.values().removeIf(meters -> {
            boolean gone = live.get(meters.name()) != meters.relay();
            if (gone) {
                meters.close();
            }
            return gone;
        });
        live.values().forEach(this::track);
    }

    // --- life cycle ----------------------------------------------------------------------------------------------

    @Override
    public synchronized void start() {
        RelayRegistry relays = service.getObject();
        for (RelayState state : RelayState.values()) {
            Gauge.builder("onion.relays", relays, s -> s.list().stream()
                            .filter(r -> r.state() == state)
                            .count())
                    .description("Relays by state (LISTENING, FAILED, STOPPED)")
                    .tag("state", state.name())
                    .strongReference(true)
                    .register(registry);
        }
        OnionEngine engine = relays.engine();
        for (DescriptorExhaustion.Where where : DescriptorExhaustion.Where.values()) {
            FunctionCounter.builder(
                            "onion.descriptors.exhausted",
                            engine.descriptorExhaustion(),
                            exhaustion -> exhaustion.count(where))
                    .description("Accepts and target connects that found no file descriptor left (EMFILE)")
                    .tag("where", where.label())
                    .register(registry);
        }
        Gauge.builder("onion.direct.memory.used", DirectMemoryLimit::used)
                .description("Direct memory held by Netty's default allocator (tunnel buffers), bytes")
                .baseUnit("bytes")
                .register(registry);
        Gauge.builder("onion.direct.memory.limit", engine.directMemory(), DirectMemoryLimit::limit)
                .description("onion.limits.max-direct-memory: new connections are refused at or above it (0: none)")
                .baseUnit("bytes")
                .strongReference(true)
                .register(registry);
        refresh();
        ScheduledExecutorService executor = Executors.newSingleThreadScheduledExecutor(task -> {
            Thread thread = new Thread(task, "onion-metrics");
            thread.setDaemon(true);
            return thread;
        });
        executor.scheduleWithFixedDelay(
                this::refreshQuietly, REFRESH.toMillis(), REFRESH.toMillis(), TimeUnit.MILLISECONDS);
        refresher = executor;
    }

    private void refreshQuietly() {
        try {
            refresh();
        } catch (RuntimeException e) {
            // A scheduled task that throws is never run again: log and carry on at the next tick.
            LOG.log(System.Logger.Level.WARNING, "refreshing relay metrics failed", e);
        }
    }

    @Override
    public synchronized void stop() {
        ScheduledExecutorService executor = refresher;
        if (executor != null) {
            executor.shutdownNow();
            refresher = null;
        }
    }

    @Override
    public synchronized boolean isRunning() {
        return refresher != null;
    }
}
