package dev.onionrelay.store.postgres;

import dev.onionrelay.store.KeyEncryptionKey;
import dev.onionrelay.store.KeyRing;
import dev.onionrelay.store.StoreConfigurationException;
import dev.onionrelay.store.StoreMigration;
import dev.onionrelay.store.StoreUnavailableException;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.SQLTransientConnectionException;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Supplier;
import javax.sql.DataSource;
import org.jspecify.annotations.Nullable;
import org.postgresql.util.PSQLException;

/**
 * The database of a fleet: its connections, its schema (Flyway, {@code classpath:db/migration}), the key-encryption
 * key that seals secrets in it, and the change feed every write goes through ({@link #recordChange}).
 */
public final class PgStore {

    /** The channel every change is announced on; the payload is the change's revision. */
    public static final String CHANNEL = "onion_changes";

    private static final String ADMIN_TOKEN = "admin-token";

    private final DataSource dataSource;
    private final FleetKeys keys;
    private final Duration retryAfter;
    private final StoreSchema schema;
    /** The budget of one {@link #transaction}; null: the driver's socket timeout alone bounds it. */
    private final @Nullable StoreTimeout timeout;

    private final List<Runnable> admissionChecks = new CopyOnWriteArrayList<>();
    private volatile boolean prepared;
    private volatile @Nullable StoreConfigurationException problem;
    private volatile @Nullable StoreConfigurationException suspended;

    public PgStore(DataSource dataSource, KeyEncryptionKey kek, Duration retryAfter) {
        this(dataSource, kek, retryAfter, StoreMigration.AUTO);
    }

    public PgStore(DataSource dataSource, KeyEncryptionKey kek, Duration retryAfter, StoreMigration migration) {
        this(dataSource, KeyRing.of(kek), retryAfter, migration, null);
    }

    public PgStore(DataSource dataSource, KeyRing keys, Duration retryAfter, StoreMigration migration) {
        this(dataSource, keys, retryAfter, migration, null);
    }

    /**
     * @param timeout {@code onion.store.timeout}: every {@link #transaction} fails as unavailable once it has waited
     *     this long for the database, from taking a connection to its last answer (null: no budget of its own)
     */
    public PgStore(
            DataSource dataSource,
            KeyRing keys,
            Duration retryAfter,
            StoreMigration migration,
            @Nullable StoreTimeout timeout) {
        this.timeout = timeout;
        this.dataSource = dataSource;
        this.keys = new FleetKeys(keys);
        this.retryAfter = retryAfter;
        this.schema = new StoreSchema(dataSource, migration, retryAfter);
    }

    public DataSource dataSource() {
        return dataSource;
    }

    /** The keys this instance holds, applied to the fleet's: what seals and opens secrets in the store. */
    public FleetKeys keys() {
        return keys;
    }

    public Duration retryAfter() {
        return retryAfter;
    }

    public StoreSchema schema() {
        return schema;
    }

    /**
     * Admits this instance to the fleet: the schema migrated (or validated), the key-encryption key checked against
     * what the store holds, then every {@link #whenAdmitted} check run (the fleet's API token read). Until this
     * succeeds the instance takes no writes ({@link #requireAdmitted}), joins no membership, and is not ready.
     *
     * @return false when the database cannot be reached now (the caller serves its snapshot and tries again later)
     * @throws StoreConfigurationException when the store cannot be used as configured (the key is not the fleet's,
     *     authentication refused, the schema newer than this version or damaged); also kept as {@link #problem()}
     */
    public synchronized boolean prepare() {
        if (prepared) {
            return true;
        }
        try {
            schema.apply();
            checkKey();
            for (Runnable check : admissionChecks) {
                check.run();
            }
            prepared = true;
            problem = null;
            return true;
        } catch (StoreUnavailableException e) {
            return false;
        } catch (StoreConfigurationException e) {
            problem = e;
            throw e;
        }
    }

    /** Whether {@link #prepare} succeeded: this instance is admitted to the fleet. */
    public boolean prepared() {
        return prepared;
    }

    /** Why this instance is not admitted although the store answered; null when it is, or it was not reached yet. */
    public @Nullable StoreConfigurationException problem() {
        return problem;
    }

    /**
     * Runs {@code check} as part of admission: now, if this instance is admitted already, else at every admission
     * attempt until one succeeds. A check that throws keeps the instance out.
     */
    public synchronized void whenAdmitted(Runnable check) {
        if (prepared) {
            check.run();
        }
        admissionChecks.add(check);
    }

    /**
     * What every write calls first: an instance not admitted yet tries now, and refuses the write when it cannot be.
     *
     * @throws StoreUnavailableException when the store cannot be reached to admit this instance
     * @throws StoreConfigurationException when this instance cannot be admitted (naming why)
     */
    public void requireAdmitted() {
        StoreConfigurationException writesSuspended = suspended;
        if (writesSuspended != null) {
            throw writesSuspended;
        }
        if (prepared) {
            return;
        }
        if (!prepare()) {
            throw new StoreUnavailableException(
                    "this instance has not been admitted to the fleet yet (the store cannot be reached to check its"
                            + " encryption key and API tokens), so the change was not made",
                    retryAfter,
                    null);
        }
    }

    /**
     * Refuses writes, naming {@code why}, while a running instance finds the store unusable as configured (the
     * password changed, a table dropped, a newer version migrated it). The instance stays admitted and ready: its
     * relays serve the last state, as in an outage; an operator must act.
     */
    public void suspendWrites(StoreConfigurationException why) {
        suspended = why;
    }

    /** Takes writes again after {@link #suspendWrites}: the store was read as configured. */
    public void resumeWrites() {
        suspended = null;
    }

    /** Brings the schema to the newest migration (instances starting at once take turns: Flyway locks). */
    public void migrate() {
        schema.migrate();
    }

    /**
     * Makes sure this instance holds the fleet's key-encryption key and every key a stored secret is sealed under;
     * the first instance of a new store makes its current key the fleet's (see {@link FleetKeys}).
     *
     * @throws StoreConfigurationException naming the key ids when it does not
     */
    public void checkKey() {
        transaction("check the key-encryption key", connection -> {
            keys.admit(connection);
            return null;
        });
    }

    /**
     * The fleet's admin token: the one stored (sealed) by the first instance that needed one, or {@code generate}d
     * and stored now if there is none. Concurrent first starts agree: the insert happens only if absent.
     */
    public String adminToken(Supplier<String> generate) {
        return transaction("read the admin token", connection -> {
            FleetKeys.Sealed sealed =
                    keys.seal(connection, generate.get().getBytes(StandardCharsets.UTF_8), ADMIN_TOKEN);
            insertSettingIfAbsent(connection, ADMIN_TOKEN, sealed);
            Setting stored = setting(connection, ADMIN_TOKEN);
            try {
                return new String(keys.open(stored.value(), stored.keyId(), ADMIN_TOKEN), StandardCharsets.UTF_8);
            } catch (GeneralSecurityException e) {
                throw new StoreConfigurationException(
                        "onion.store.encryption-key-file does not decrypt the stored admin token (key id "
                                + keys.ring().current().id() + "; stored with key id " + stored.keyId() + ")",
                        "Give every instance of the fleet the key-encryption key the store was written with.");
            }
        });
    }

    private void insertSettingIfAbsent(Connection connection, String name, FleetKeys.Sealed value) throws SQLException {
        try (PreparedStatement insert = connection.prepareStatement(
                "INSERT INTO settings (name, value, key_id) VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING")) {
            insert.setString(1, name);
            insert.setBytes(2, value.value());
            insert.setString(3, value.keyId());
            if (insert.executeUpdate() == 1) {
                recordChange(connection, "setting", name, "created");
            }
        }
    }

    private record Setting(byte[] value, @Nullable String keyId) {}

    private static Setting setting(Connection connection, String name) throws SQLException {
        try (PreparedStatement select =
                connection.prepareStatement("SELECT value, key_id FROM settings WHERE name = ?")) {
            select.setString(1, name);
            try (ResultSet row = select.executeQuery()) {
                if (!row.next()) {
                    throw new SQLException("setting " + name + " is missing");
                }
                return new Setting(row.getBytes(1), row.getString(2));
            }
        }
    }

    /** Records a change in the same transaction as the change itself and announces it when that commits. */
    void recordChange(Connection connection, String kind, String name, String operation) throws SQLException {
        try (PreparedStatement insert = connection.prepareStatement(
                "INSERT INTO changes (kind, name, operation) VALUES (?, ?, ?) RETURNING revision")) {
            insert.setString(1, kind);
            insert.setString(2, name);
            insert.setString(3, operation);
            long revision;
            try (ResultSet row = insert.executeQuery()) {
                row.next();
                revision = row.getLong(1);
            }
            try (PreparedStatement notify = connection.prepareStatement("SELECT pg_notify(?, ?)")) {
                notify.setString(1, CHANNEL);
                notify.setString(2, Long.toString(revision));
                notify.execute();
            }
        }
    }

    /** Work on one connection inside a transaction. */
    @FunctionalInterface
    public interface Work<T> {
        T run(Connection connection) throws SQLException;
    }

    /** A statement failed for a reason other than the database being unreachable (a constraint, a bug). */
    public static final class StatementException extends RuntimeException {
        private static final long serialVersionUID = 1L;

        StatementException(String message, SQLException cause) {
            super(message, cause);
        }

        public SQLException sqlException() {
            return (SQLException) getCause();
        }

        /** The SQLSTATE, e.g. {@code 23505} for a unique violation. */
        public @Nullable String sqlState() {
            return sqlException().getSQLState();
        }

        /** The constraint the database names for a violation, if it names one. */
        public @Nullable String constraint() {
            if (sqlException() instanceof PSQLException psql && psql.getServerErrorMessage() != null) {
                return psql.getServerErrorMessage().getConstraint();
            }
            return null;
        }
    }

    /**
     * Lets the statements of a call wait only for what is left of its {@link StoreTimeout} after taking the connection
     * (HikariCP sets the pool's own network timeout again when the connection goes back), so that a database that
     * stops answering fails the call within {@code onion.store.timeout} in all, not the pool's wait plus a socket
     * timeout.
     */
    private void limitToTheBudget(Connection connection, long started) throws SQLException {
        if (timeout == null) {
            return;
        }
        long left = timeout.left(started);
        if (left <= 0) {
            throw new SQLTransientConnectionException(
                    "no answer from the database within onion.store.timeout (" + timeout.timeout() + ")", "08001");
        }
        connection.setNetworkTimeout(Runnable::run, (int) Math.min(Integer.MAX_VALUE, left));
    }

    /**
     * Runs {@code work} in one transaction: all of it commits or none of it.
     *
     * @throws StoreUnavailableException when the database cannot be reached (nothing was applied)
     * @throws StatementException when a statement fails otherwise (nothing was applied)
     */
    public <T> T transaction(String what, Work<T> work) {
        long started = System.nanoTime();
        try (Connection connection = dataSource.getConnection()) {
            limitToTheBudget(connection, started);
            connection.setAutoCommit(false);
            try {
                T result = work.run(connection);
                connection.commit();
                return result;
            } catch (SQLException | RuntimeException e) {
                try {
                    connection.rollback();
                } catch (SQLException ignored) {
                    // the connection is broken; the transaction dies with it
                }
                throw e;
            }
        } catch (SQLException e) {
            Optional<RuntimeException> known = StoreErrors.classify(what, e, retryAfter);
            if (known.isPresent()) {
                throw known.get();
            }
            throw new StatementException(what + ": " + e.getMessage(), e);
        }
    }
}
