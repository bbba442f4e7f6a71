package dev.onionrelay.store.postgres;

import dev.onionrelay.store.StoreConfigurationException;
import org.jspecify.annotations.Nullable;

/**
 * Whether this instance is admitted to its fleet (its schema, encryption key and API tokens checked against the
 * store, see {@link PgStore#prepare}) and, if not, why: what readiness, health and refused writes name.
 */
public record FleetAdmission(boolean admitted, @Nullable String reason) {

    public static final FleetAdmission ADMITTED = new FleetAdmission(true, null);

    static final String NOT_REACHED_YET =
            "not admitted to the fleet: the store has not been reached yet to check this instance's encryption key"
                    + " and API tokens";

    public static FleetAdmission of(PgStore store) {
        if (store.prepared()) {
            return ADMITTED;
        }
        StoreConfigurationException problem = store.problem();
        return new FleetAdmission(
                false, problem != null ? "not admitted to the fleet: " + problem.getMessage() : NOT_REACHED_YET);
    }
}
