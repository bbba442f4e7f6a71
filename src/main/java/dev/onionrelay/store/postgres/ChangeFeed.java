package dev.onionrelay.store.postgres;

import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import javax.sql.DataSource;
import org.postgresql.PGConnection;
import org.postgresql.PGNotification;

/**
 * Tells this instance when the shared store changed: a connection of its own LISTENs on {@link PgStore#CHANNEL} and
 * {@code onChange} runs for every batch of notifications, when the connection is (re)made (changes may have been
 * missed meanwhile), and every {@code resync} in any case, so that a lost notification heals. While the database is
 * away it tries to connect again every second; {@link #connected()} says whether it is listening.
 */
public final class ChangeFeed implements AutoCloseable {

    private static final System.Logger LOG = System.getLogger(ChangeFeed.class.getName());
    private static final int POLL_MILLIS = 250;
    private static final long RECONNECT_MILLIS = 1000;

    private final DataSource dataSource;
    private final Duration resync;
    private final Runnable onChange;
    private final Thread thread;
    private volatile boolean running = true;
    private volatile boolean connected;

    public ChangeFeed(DataSource dataSource, Duration resync, Runnable onChange) {
        this.dataSource = dataSource;
        this.resync = resync;
        this.onChange = onChange;
        this.thread = new Thread(this::run, "onion-store-feed");
        this.thread.setDaemon(true);
    }

    public void start() {
        thread.start();
    }

    public boolean connected() {
        return connected;
    }

    private void run() {
        boolean reportedDown = false;
        while (running) {
            try (Connection connection = dataSource.getConnection()) {
                connection.setAutoCommit(true);
                try (Statement listen = connection.createStatement()) {
                    listen.execute("LISTEN " + PgStore.CHANNEL);
                }
                PGConnection pg = connection.unwrap(PGConnection.class);
                connected = true;
                if (reportedDown) {
                    LOG.log(System.Logger.Level.INFO, "the store is reachable again; reading it");
                    reportedDown = false;
                }
                onChange.run();
                long nextResync = System.nanoTime() + resync.toNanos();
                while (running) {
                    PGNotification[] notifications = pg.getNotifications(POLL_MILLIS);
                    if (notifications != null && notifications.length > 0) {
                        onChange.run();
                        nextResync = System.nanoTime() + resync.toNanos();
                    } else if (System.nanoTime() - nextResync >= 0) {
                        onChange.run();
                        nextResync = System.nanoTime() + resync.toNanos();
                    }
                    if (connection.isClosed()) {
                        throw new SQLException("the listening connection closed", "08006");
                    }
                }
            } catch (SQLException | RuntimeException e) {
                connected = false;
                if (!running) {
                    return;
                }
                if (!reportedDown) {
                    LOG.log(
                            System.Logger.Level.WARNING,
                            "not listening to store changes ({0}); relays keep serving, trying again every second",
                            e.getMessage());
                    reportedDown = true;
                }
                onChange.run(); // keeps health current (the read fails fast) and heals as soon as the store returns
                try {
                    Thread.sleep(RECONNECT_MILLIS);
                } catch (InterruptedException interrupted) {
                    return;
                }
            }
        }
    }

    @Override
    public void close() {
        running = false;
        thread.interrupt();
        try {
            thread.join(5000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
