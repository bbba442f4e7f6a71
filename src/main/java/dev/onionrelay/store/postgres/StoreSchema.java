package dev.onionrelay.store.postgres;

import dev.onionrelay.store.StoreConfigurationException;
import dev.onionrelay.store.StoreMigration;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import javax.sql.DataSource;
import org.flywaydb.core.Flyway;
import org.flywaydb.core.api.MigrationInfo;
import org.flywaydb.core.api.MigrationInfoService;
import org.flywaydb.core.api.MigrationState;
import org.flywaydb.core.api.MigrationVersion;
import org.jspecify.annotations.Nullable;

/**
 * The store's schema: the migrations in {@code classpath:db/migration} (Flyway), applied at start ({@link
 * StoreMigration#AUTO}) or only checked ({@link StoreMigration#VALIDATE}, when the rollout migrates as a step of its
 * own: {@code java -jar onion-relay.jar --onion.store.migrate-only}). A schema newer than this version knows is refused
 * in both modes (Flyway alone would warn and carry on), and so is one whose tables are gone.
 */
public final class StoreSchema {

    /** The tables every instance uses; a missing one is a damaged schema, not an outage. */
    static final List<String> TABLES =
            List.of("credentials", "relays", "relay_credentials", "changes", "settings", "fleet_members");

    private static final String MIGRATE_ONLY = "java -jar onion-relay.jar --onion.store.migrate-only (with this"
            + " instance's spring.datasource settings)";

    private final DataSource dataSource;
    private final StoreMigration mode;
    private final Duration retryAfter;
    private volatile @Nullable MigrationVersion latestKnown;

    public StoreSchema(DataSource dataSource, StoreMigration mode, Duration retryAfter) {
        this.dataSource = dataSource;
        this.mode = mode;
        this.retryAfter = retryAfter;
    }

    /**
     * Brings the schema to this version's (or checks it is there, in {@link StoreMigration#VALIDATE}).
     *
     * @throws dev.onionrelay.store.StoreUnavailableException when the database cannot be reached
     * @throws StoreConfigurationException when the schema is newer than this version, behind it in VALIDATE mode,
     *     damaged, or the database refuses this instance
     */
    public void apply() {
        apply(mode);
    }

    /**
     * Applies the pending migrations whatever the mode (the separate migration step).
     *
     * @return the schema version afterwards
     */
    public String migrate() {
        apply(StoreMigration.AUTO);
        MigrationInfo current = guarded(() -> flyway().info().current());
        return current == null ? "none" : current.getVersion().getVersion();
    }

    private void apply(StoreMigration how) {
        Flyway flyway = flyway();
        MigrationInfoService info = guarded(flyway::info);
        refuseNewer(info);
        if (how == StoreMigration.AUTO) {
            guarded(flyway::migrate);
        } else if (info.pending().length > 0) {
            MigrationInfo current = info.current();
            throw new StoreConfigurationException(
                    "the store's schema is at version " + (current == null ? "none" : current.getVersion())
                            + " and this version needs " + latest(info) + " (onion.store.migrate is validate)",
                    "Migrate it first: " + MIGRATE_ONLY + ", or set onion.store.migrate=auto.");
        }
        checkTables();
    }

    /**
     * What a running instance checks at every sync: its tables are there and no newer version migrated the schema
     * since it started (a plain query, not a Flyway scan).
     *
     * @throws StoreConfigurationException naming the problem
     */
    public void check() {
        checkTables();
        MigrationVersion known = latestKnown;
        if (known == null) {
            return;
        }
        List<String> newer = guarded(() -> {
            try (Connection connection = dataSource.getConnection();
                    PreparedStatement select = connection.prepareStatement(
                            "SELECT version FROM flyway_schema_history WHERE version IS NOT NULL");
                    ResultSet row = select.executeQuery()) {
                List<String> found = new ArrayList<>();
                while (row.next()) {
                    if (MigrationVersion.fromVersion(row.getString(1)).isNewerThan(known)) {
                        found.add(row.getString(1));
                    }
                }
                return found;
            }
        });
        if (!newer.isEmpty()) {
            throw newerThanKnown(newer, known.getVersion());
        }
    }

    private static StoreConfigurationException newerThanKnown(List<String> newer, String latest) {
        return new StoreConfigurationException(
                "the store's schema has version " + String.join(", ", newer) + ", newer than this version knows ("
                        + latest + "): a newer onion-relay migrated it",
                "Run the version that migrated the store (every instance of a fleet runs one version).");
    }

    private void refuseNewer(MigrationInfoService info) {
        List<String> newer = new ArrayList<>();
        for (MigrationInfo applied : info.applied()) {
            if (applied.getState() == MigrationState.FUTURE_SUCCESS
                    || applied.getState() == MigrationState.FUTURE_FAILED) {
                newer.add(applied.getVersion().getVersion());
            }
        }
        latestKnown = MigrationVersion.fromVersion(latest(info));
        if (!newer.isEmpty()) {
            throw newerThanKnown(newer, latest(info));
        }
    }

    private static String latest(MigrationInfoService info) {
        MigrationVersion latest = MigrationVersion.EMPTY;
        for (MigrationInfo known : info.all()) {
            if (known.getState() != MigrationState.FUTURE_SUCCESS
                    && known.getState() != MigrationState.FUTURE_FAILED
                    && known.getVersion() != null
                    && known.getVersion().isNewerThan(latest)) {
                latest = known.getVersion();
            }
        }
        return latest.getVersion();
    }

    /**
     * @throws StoreConfigurationException naming the tables that are gone
     */
    public void checkTables() {
        List<String> missing = guarded(() -> {
            try (Connection connection = dataSource.getConnection();
                    PreparedStatement select = connection.prepareStatement(
                            "SELECT t FROM unnest(?::text[]) AS t WHERE to_regclass(t) IS NULL ORDER BY t")) {
                select.setArray(1, connection.createArrayOf("text", TABLES.toArray()));
                List<String> gone = new ArrayList<>();
                try (ResultSet row = select.executeQuery()) {
                    while (row.next()) {
                        gone.add(row.getString(1));
                    }
                }
                return gone;
            }
        });
        if (!missing.isEmpty()) {
            throw new StoreConfigurationException(
                    "the store's schema is damaged: table " + String.join(", ", missing)
                            + " is missing although the migration history says it was created",
                    "Restore it from a backup, or recreate the store in a new database.");
        }
    }

    private Flyway flyway() {
        return Flyway.configure()
                .dataSource(dataSource)
                .locations("classpath:db/migration")
                .load();
    }

    @FunctionalInterface
    private interface Step<T> {
        T run() throws SQLException;
    }

    /** Runs a step, telling an unreachable or misconfigured store apart from other failures. */
    private <T> T guarded(Step<T> step) {
        try {
            return step.run();
        } catch (SQLException | RuntimeException e) {
            Optional<RuntimeException> known = StoreErrors.classify("read the store's schema", e, retryAfter);
            if (known.isPresent()) {
                throw known.get();
            }
            if (e instanceof RuntimeException runtime) {
                throw runtime;
            }
            throw new IllegalStateException("reading the store's schema failed: " + e.getMessage(), e);
        }
    }
}
