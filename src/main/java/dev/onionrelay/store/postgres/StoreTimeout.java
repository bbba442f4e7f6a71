package dev.onionrelay.store.postgres;

import java.time.Duration;

/**
 * {@code onion.store.timeout}: how long one store call may wait for the database, all waits of the call together, so
 * that a create or delete that meets a stalled database (a hung server, a network that drops packets) answers 503
 * within it. The call's waits are split so that they cannot add up beyond it:
 *
 * <ul>
 *   <li>taking a connection from the pool ({@link #connectionMillis} plus one {@link #validationMillis}): HikariCP
 *       checks an idle connection before handing it out and, when the check fails, tries the next one while its
 *       connection timeout lasts; a check that starts just before that ends runs its full validation timeout. With
 *       the pool's fixed 3 s and 2 s a stalled database held a create 4.2 s under a 2 s store timeout (issue 23,
 *       {@code DatabaseStallTest});
 *   <li>the statements: each read waits at most what is left of the call's budget ({@link #left}), set as the
 *       connection's network timeout before the work starts.
 * </ul>
 *
 * <p>The JDBC socket timeout ({@link #socketSeconds}, whole seconds) stays as the bound for the connections used
 * outside a store call: the change feed, the membership heartbeat, the schema check, a new connection's login.
 */
public record StoreTimeout(Duration timeout) {

    /** Hikari's own floor for its timeouts. */
    static final long HIKARI_MINIMUM_MILLIS = 250;
    /** The pool's wait for a connection, at most: a database that is away answers writes 503 after this. */
    static final long CONNECTION_MILLIS = 3000;
    /** The check of an idle connection, at most. */
    static final long VALIDATION_MILLIS = 2000;

    public StoreTimeout {
        if (timeout.isNegative() || timeout.isZero()) {
            throw new IllegalArgumentException("onion.store.timeout must be positive: " + timeout);
        }
    }

    /** How long the pool checks an idle connection before handing it out: a quarter of the budget, 250 ms to 2 s. */
    public long validationMillis() {
        return Math.min(VALIDATION_MILLIS, Math.max(HIKARI_MINIMUM_MILLIS, timeout.toMillis() / 4));
    }

    /** How long the pool looks for a connection: the budget less one check, at most 3 s, at least 250 ms. */
    public long connectionMillis() {
        return Math.min(CONNECTION_MILLIS, Math.max(HIKARI_MINIMUM_MILLIS, timeout.toMillis() - validationMillis()));
    }

    /** The JDBC driver's {@code socketTimeout} (whole seconds, rounded up). */
    public int socketSeconds() {
        return (int) Math.max(1, (timeout.toMillis() + 999) / 1000);
    }

    /**
     * What is left of a call's budget that began at {@code startedNanos} ({@link System#nanoTime()}); zero or less
     * when it is spent.
     */
    public long left(long startedNanos) {
        return timeout.toMillis()
                - Duration.ofNanos(System.nanoTime() - startedNanos).toMillis();
    }
}
