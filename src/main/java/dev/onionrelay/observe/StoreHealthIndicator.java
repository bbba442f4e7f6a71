package dev.onionrelay.observe;

import dev.onionrelay.store.postgres.FleetSync;
import java.util.function.Supplier;
import org.springframework.boot.health.contributor.Health;
import org.springframework.boot.health.contributor.HealthIndicator;

/**
 * The {@code store} health component of an instance of a fleet: UP while the shared store is reachable and this
 * instance applies its changes, DOWN while it cannot be read (relays keep serving the last state, so readiness does
 * not include it). Details: the last successful read and why the store is down.
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
        health.withDetail(
                "lastSync", now.lastSync() == null ? "never" : now.lastSync().toString());
        if (now.error() != null) {
            health.withDetail("error", now.error());
        }
        return health.build();
    }
}
