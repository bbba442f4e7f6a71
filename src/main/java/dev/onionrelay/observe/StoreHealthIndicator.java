package dev.onionrelay.observe;

import dev.onionrelay.store.postgres.FleetSync;
import java.util.function.Supplier;
import org.springframework.boot.health.contributor.Health;
import org.springframework.boot.health.contributor.HealthIndicator;

/**
 * The {@code store} health component of an instance of a fleet: UP while the shared store is read and applied, DOWN
 * while it is not (relays keep serving the last state, so readiness does not include it). Details: {@code state}
 * ({@code UP}, {@code UNREACHABLE}: an outage that may end by itself, {@code CONFIGURATION_ERROR}: the store answers
 * but cannot be used as configured), {@code reason}, and {@code lastSync} (the last successful full read).
 */
public class StoreHealthIndicator implements HealthIndicator {

    private final Supplier<FleetSync.Status> status;

    public StoreHealthIndicator(Supplier<FleetSync.Status> status) {
        this.status = status;
    }

    @Override
    public Health health() {
        FleetSync.Status now = status.get();
        Health.Builder health = now.up() ? Health.up() : Health.down();
        health.withDetail("type", "postgres");
        health.withDetail("state", now.state().name());
        health.withDetail(
                "lastSync", now.lastSync() == null ? "never" : now.lastSync().toString());
        if (now.error() != null) {
            health.withDetail("reason", now.error());
            // the name of this detail before it was called reason, kept for existing probes and dashboards
            health.withDetail("error", now.error());
        }
        return health.build();
    }
}
