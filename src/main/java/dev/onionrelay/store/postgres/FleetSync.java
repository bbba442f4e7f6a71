package dev.onionrelay.store.postgres;

import dev.onionrelay.registry.RelayRegistry;
import dev.onionrelay.registry.StoreSync;
import dev.onionrelay.store.StoreConfigurationException;
import dev.onionrelay.store.StoreUnavailableException;
import java.time.Duration;
import java.time.Instant;
import java.util.Set;
import org.jspecify.annotations.Nullable;

/**
 * Keeps this instance on the shared store's state: on every change the {@link ChangeFeed} reports (and every resync),
 * reads the credentials and relays again, lets the registry open, close and reopen relays to match, and writes the
 * snapshot this instance starts from when the database is away. While the database cannot be reached nothing changes
 * here: relays keep serving the last state, and {@link #status()} says so.
 */
public final class FleetSync implements AutoCloseable {

    private static final System.Logger LOG = System.getLogger(FleetSync.class.getName());

    /** How the store answered the last read. */
    public enum State {
        /** Read and applied. */
        UP,
        /** Not reached: an outage, which may end by itself (writes 503 with Retry-After). */
        UNREACHABLE,
        /** Reached but unusable as configured: authentication, the schema, the key (an operator must act). */
        CONFIGURATION_ERROR
    }

    /** How the store answered the last read, when this instance last read it fully, and why it is not UP. */
    public record Status(
            State state,
            @Nullable Instant lastSync,
            @Nullable String error) {

        public boolean up() {
            return state == State.UP;
        }
    }

    private final PgStore db;
    private final PostgresCredentialRepository credentials;
    private final PostgresRelayStore relays;
    private final RelayRegistry registry;
    private final StoreSnapshot snapshot;
    private final ChangeFeed feed;
    private volatile Status status = new Status(State.UNREACHABLE, null, "not read yet");
    private volatile @Nullable String loggedProblem;

    public FleetSync(
            PgStore db,
            PostgresCredentialRepository credentials,
            PostgresRelayStore relays,
            RelayRegistry registry,
            StoreSnapshot snapshot,
            Duration resync) {
        this.db = db;
        this.credentials = credentials;
        this.relays = relays;
        this.registry = registry;
        this.snapshot = snapshot;
        this.feed = new ChangeFeed(db.dataSource(), resync, this::sync);
    }

    public void start() {
        feed.start();
    }

    public Status status() {
        Status now = status;
        if (now.up() && !feed.connected()) {
            return new Status(State.UNREACHABLE, now.lastSync(), "not listening to store changes");
        }
        return now;
    }

    /** Reads the store and applies it; never throws (the data plane does not depend on the database). */
    public synchronized void sync() {
        long started = System.nanoTime();
        try {
            if (!db.prepare()) {
                throw new StoreUnavailableException("the store cannot be reached", db.retryAfter(), null);
            }
            // A table dropped or a newer version migrating under a running fleet is a configuration error, not an
            // outage.
            db.schema().check();
            Set<String> changedCredentials = credentials.refresh();
            // Relays whose credentials changed under the same name pick up the new material.
            for (String name : changedCredentials) {
                registry.refresh(name);
            }
            relays.read(); // fails while the database is away, so an outage is not mistaken for "nothing changed"
            StoreSync done = registry.reconcile();
            if (!done.isEmpty()) {
                LOG.log(
                        System.Logger.Level.INFO,
                        "applied store changes: opened {0}, closed {1}, reopened {2}",
                        done.open().size(),
                        done.close().size(),
                        done.replace().size());
            }
            snapshot.write(new StoreSnapshot.State(relays.lastKnown(), credentials.rows()));
            status = new Status(State.UP, Instant.now(), null);
            loggedProblem = null;
            db.resumeWrites();
            LOG.log(
                    System.Logger.Level.DEBUG,
                    "read the store in {0} ms",
                    Duration.ofNanos(System.nanoTime() - started).toMillis());
        } catch (StoreUnavailableException e) {
            if (status.up() || status.lastSync() == null) {
                LOG.log(System.Logger.Level.WARNING, "{0}; serving the last state", e.getMessage());
            }
            status = new Status(State.UNREACHABLE, status.lastSync(), "unreachable: the store cannot be reached");
        } catch (StoreConfigurationException e) {
            // One line per problem, not one per resync: the same problem stays until an operator fixes it.
            if (!e.getMessage().equals(loggedProblem)) {
                LOG.log(System.Logger.Level.ERROR, "store configuration error: {0} {1}", e.getMessage(), e.action());
                loggedProblem = e.getMessage();
            }
            status = new Status(State.CONFIGURATION_ERROR, status.lastSync(), e.getMessage());
            db.suspendWrites(e);
        } catch (RuntimeException e) {
            LOG.log(System.Logger.Level.WARNING, "applying store changes failed: {0}", e.toString());
            status = new Status(State.UNREACHABLE, status.lastSync(), e.getMessage());
        }
    }

    @Override
    public void close() {
        feed.close();
    }
}
