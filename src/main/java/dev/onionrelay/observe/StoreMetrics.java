package dev.onionrelay.observe;

import dev.onionrelay.store.postgres.FleetSync;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import java.time.Duration;
import java.time.Instant;
import java.util.function.Supplier;

/**
 * The shared store as Prometheus sees it: {@code onion_store_up} (1 while the last read of the store succeeded, 0
 * while it is unreachable or misconfigured) and {@code onion_store_sync_age_seconds} (seconds since the last
 * successful full read, so it grows through an outage; since this instance started while it has never read the store).
 */
public final class StoreMetrics {

    private final Supplier<FleetSync.Status> status;
    private final Instant started = Instant.now();

    private StoreMetrics(Supplier<FleetSync.Status> status) {
        this.status = status;
    }

    public static StoreMetrics register(Supplier<FleetSync.Status> status, MeterRegistry registry) {
        StoreMetrics metrics = new StoreMetrics(status);
        Gauge.builder("onion.store.up", metrics, StoreMetrics::up)
                .description("1 while this instance reads the shared store, 0 while it cannot (unreachable or"
                        + " misconfigured)")
                .register(registry);
        Gauge.builder("onion.store.sync.age", metrics, StoreMetrics::syncAgeSeconds)
                .baseUnit("seconds")
                .description("Seconds since this instance last read the whole shared store successfully")
                .register(registry);
        return metrics;
    }

    double up() {
        return status.get().up() ? 1 : 0;
    }

    double syncAgeSeconds() {
        Instant last = status.get().lastSync();
        return Duration.between(last == null ? started : last, Instant.now()).toMillis() / 1000.0;
    }
}
