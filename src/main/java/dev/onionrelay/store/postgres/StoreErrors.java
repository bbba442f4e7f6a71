package dev.onionrelay.store.postgres;

import dev.onionrelay.store.StoreConfigurationException;
import dev.onionrelay.store.StoreUnavailableException;
import java.sql.SQLException;
import java.sql.SQLRecoverableException;
import java.sql.SQLTransientConnectionException;
import java.time.Duration;
import java.util.Optional;
import org.jspecify.annotations.Nullable;

/**
 * Tells store failures apart by SQLSTATE, so that each gets its own answer: the database cannot be reached now (503
 * with Retry-After, relays keep serving: it may come back by itself), or it answers but cannot be used as configured
 * (authentication refused, no such database, a table missing): a configuration error an operator must fix, named in
 * health and in one log line. Anything else is a refused statement for the caller to judge (a constraint, a bug).
 */
public final class StoreErrors {

    private static final String CHECK_CREDENTIALS =
            "Check spring.datasource.username and spring.datasource.password against the database's roles.";
    private static final String RESTORE_SCHEMA = "Restore the table from a backup, or recreate the schema with a new"
            + " database; onion-relay does not recreate tables the migration history says exist.";

    private StoreErrors() {}

    /**
     * What {@code failure} (or an SQL error it wraps: HikariCP and Flyway wrap the driver's) means for the caller, if
     * it is an unreachable or misconfigured store; empty for a refused statement.
     */
    public static Optional<RuntimeException> classify(String what, Throwable failure, Duration retryAfter) {
        // The innermost one: HikariCP copies the driver's SQLSTATE onto its own "connection is not available".
        StoreConfigurationException misconfigured = null;
        for (Throwable cause = failure; cause != null; cause = cause.getCause()) {
            if (cause instanceof SQLException sql) {
                misconfigured = misconfiguration(sql).orElse(misconfigured);
            }
        }
        if (misconfigured != null) {
            return Optional.of(misconfigured);
        }
        for (Throwable cause = failure; cause != null; cause = cause.getCause()) {
            if (cause instanceof SQLException sql && isUnavailable(sql)) {
                return Optional.of(new StoreUnavailableException(
                        "the store cannot be reached (" + what + "): " + sql.getMessage(), retryAfter, failure));
            }
        }
        return Optional.empty();
    }

    private static Optional<StoreConfigurationException> misconfiguration(SQLException sql) {
        String state = sql.getSQLState();
        if (state == null) {
            return Optional.empty();
        }
        String reason = firstLine(sql.getMessage());
        if (state.startsWith("28")) { // invalid authorization: wrong password, role missing, pg_hba refuses
            return Optional.of(
                    new StoreConfigurationException("the store refused authentication: " + reason, CHECK_CREDENTIALS));
        }
        if (state.equals("3D000")) { // invalid catalog name: no such database
            return Optional.of(new StoreConfigurationException(
                    "the store's database does not exist: " + reason,
                    "Create the database, or point spring.datasource.url at the fleet's."));
        }
        if (state.equals("42501")) { // insufficient privilege
            return Optional.of(new StoreConfigurationException(
                    "the store refused this instance's role: " + reason,
                    "Grant the role spring.datasource.username names all rights on the store's schema."));
        }
        if (state.equals("42P01") || state.equals("42703")) { // undefined table or column
            return Optional.of(
                    new StoreConfigurationException("the store's schema is damaged: " + reason, RESTORE_SCHEMA));
        }
        return Optional.empty();
    }

    /** Whether a failure means the database cannot be reached now, rather than a refused statement. */
    public static boolean isUnavailable(SQLException e) {
        if (e instanceof SQLTransientConnectionException || e instanceof SQLRecoverableException) {
            return true;
        }
        String state = e.getSQLState();
        return state == null
                || state.startsWith("08") // connection exception
                || state.startsWith("57P") // server shutting down, cannot connect now
                || state.equals("53300"); // too many connections
    }

    private static String firstLine(@Nullable String message) {
        if (message == null) {
            return "(no message)";
        }
        int end = message.indexOf('\n');
        return (end < 0 ? message : message.substring(0, end)).trim();
    }
}
