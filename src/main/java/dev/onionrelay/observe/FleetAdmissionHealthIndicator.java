package dev.onionrelay.observe;

import dev.onionrelay.store.postgres.FleetAdmission;
import java.util.function.Supplier;
import org.springframework.boot.health.contributor.Health;
import org.springframework.boot.health.contributor.HealthIndicator;

/**
 * The {@code fleetAdmission} health component, in the readiness group: DOWN with the reason until this instance has
 * checked its encryption key and API tokens against the fleet's store. An instance that is not admitted takes no
 * writes and is no member, so a load balancer should not send it API calls.
 */
public class FleetAdmissionHealthIndicator implements HealthIndicator {

    private final Supplier<FleetAdmission> admission;

    public FleetAdmissionHealthIndicator(Supplier<FleetAdmission> admission) {
        this.admission = admission;
    }

    @Override
    public Health health() {
        FleetAdmission now = admission.get();
        return now.admitted()
                ? Health.up().build()
                : Health.down().withDetail("reason", now.reason()).build();
    }
}
