package dev.onionrelay.observe;

import dev.onionrelay.registry.RelayRegistry;
import dev.onionrelay.relay.Relay;
import dev.onionrelay.relay.RelayState;
import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;
import org.springframework.boot.health.contributor.Health;
import org.springframework.boot.health.contributor.HealthIndicator;
import org.springframework.boot.health.contributor.Status;
import org.springframework.stereotype.Component;

/**
 * The {@code onion} health component, part of the readiness group (not of liveness: restarting the process would not
 * free a port):
 *
 * <ul>
 *   <li>{@code UP} while no relay is FAILED;
 *   <li>{@link #DEGRADED} while some relays are FAILED and at least one listens: the instance still serves its
 *       healthy relays, so readiness stays UP (HTTP 200) and Kubernetes keeps sending them traffic, while the failed
 *       relays retry listening on their own;
 *   <li>{@link #DEGRADED} also for a minute after the process ran out of file descriptors (an accept or a connect
 *       failed with EMFILE), or refused a connection because direct memory was at {@code
 *       onion.limits.max-direct-memory}: a warning, readiness stays UP;
 *   <li>{@code DOWN} when relays exist and none listens: the instance cannot serve at all, and readiness is DOWN;
 *   <li>{@code OUT_OF_SERVICE} once the instance is shutting down and draining its tunnels (listeners closed), with
 *       the tunnels still open.
 * </ul>
 *
 * Details (when shown) name the failed relays with why and when they try next, and stored relays that were not loaded
 * because a relay declared in configuration has their name.
 */
@Component
public class OnionHealthIndicator implements HealthIndicator {

    /** Some relays are FAILED, others serve. Ordered between DOWN and UP; answered with HTTP 200. */
    public static final Status DEGRADED = new Status("DEGRADED", "some relays are FAILED and retry listening");

    /** DEGRADED, for a process that ran out of file descriptors within {@link #DESCRIPTOR_WARNING}. */
    static final Status DESCRIPTORS_SHORT =
            new Status(DEGRADED.getCode(), "ran out of file descriptors within the last minute");

    /** DEGRADED, for a process that refused connections at its direct memory cap within {@link #DESCRIPTOR_WARNING}. */
    static final Status DIRECT_MEMORY_FULL =
            new Status(DEGRADED.getCode(), "refused connections at the direct memory cap within the last minute");

    /** How long the component stays DEGRADED after the process last ran out of file descriptors or direct memory. */
    static final Duration DESCRIPTOR_WARNING = Duration.ofMinutes(1);

    private final RelayRegistry service;

    public OnionHealthIndicator(RelayRegistry service) {
        this.service = service;
    }

    @Override
    public Health health() {
        if (service.draining()) {
            int open = service.list().stream()
                    .mapToInt(relay -> relay.tunnels().size())
                    .sum();
            return Health.outOfService()
                    .withDetail("draining", "shutting down: listeners closed, open tunnels run until they end")
                    .withDetail("openTunnels", open)
                    .build();
        }
        Map<String, String> failed = new LinkedHashMap<>();
        int listening = 0;
        int relays = 0;
        for (Relay relay : service.list()) {
            relays++;
            if (relay.state() == RelayState.LISTENING) {
                listening++;
            } else if (relay.state() == RelayState.FAILED) {
                String error = relay.error();
                failed.put(relay.spec().name(), error != null ? error : "failed");
            }
        }
        Instant exhausted = service.engine().descriptorExhaustion().last();
        boolean descriptorsShort =
                exhausted != null && exhausted.isAfter(Instant.now().minus(DESCRIPTOR_WARNING));
        Instant memoryFull = service.engine().directMemory().lastRefusal();
        boolean directMemoryFull =
                memoryFull != null && memoryFull.isAfter(Instant.now().minus(DESCRIPTOR_WARNING));
        Health.Builder health;
        if (failed.isEmpty() && !descriptorsShort && !directMemoryFull) {
            health = Health.up();
        } else if (!failed.isEmpty() && listening == 0) {
            health = Health.down();
        } else if (failed.isEmpty()) {
            health = Health.status(descriptorsShort ? DESCRIPTORS_SHORT : DIRECT_MEMORY_FULL);
        } else {
            health = Health.status(DEGRADED);
        }
        health.withDetail("relays", relays).withDetail("listening", listening);
        if (descriptorsShort) {
            health.withDetail(
                    "fileDescriptors",
                    "exhausted at " + exhausted + ": connections were left in the backlog or tunnels could not"
                            + " connect; accepting resumes by itself (see onion_descriptors_exhausted_total)");
        }
        if (directMemoryFull) {
            health.withDetail(
                    "directMemory",
                    "at its cap (onion.limits.max-direct-memory) at " + memoryFull + ": new connections were refused"
                            + " while open tunnels carried on (see onion_tunnels_rejected_total{reason=\"direct_memory\"})");
        }
        if (!failed.isEmpty()) {
            health.withDetail("failed", failed);
        }
        Map<String, String> skipped = new LinkedHashMap<>();
        for (RelayRegistry.SkippedRelay relay : service.skipped()) {
            skipped.put(relay.id(), relay.name() + ": " + relay.reason());
        }
        if (!skipped.isEmpty()) {
            health.withDetail("notLoaded", skipped);
        }
        return health.build();
    }
}
