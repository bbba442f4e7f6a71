package dev.onionrelay.fleet;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import javax.sql.DataSource;

/**
 * Membership in the shared store's {@code fleet_members} table. {@link #join} claims this instance's name for its
 * lease; a heartbeat renews it every third of the lease and rereads the live members; {@link #close} deletes the row,
 * so a stopped instance leaves at once and a killed one after its lease. Liveness is judged by the database's clock
 * ({@code now()}), so instance clocks do not matter.
 *
 * <p>The live members are those of the last heartbeat that reached the store: an API call never waits for the
 * database, and while the database is away the last known fleet stays in use.
 *
 * <p>A member whose lease ran out less than one more lease ago is {@link #suspect}: it may only be paused (a stopped
 * JVM, a long GC, a network split) and still hold tunnels, so calls about them say so (504) instead of pretending
 * they are gone; after the second lease it is gone. When it renews again it is live again at once.
 */
public final class JdbcFleetMembers implements FleetMembers, AutoCloseable {

    private static final System.Logger LOG = System.getLogger(JdbcFleetMembers.class.getName());

    /** How long a dead member's row stays after its lease ran out, before a live member deletes it. */
    private static final String FORGET_AFTER = "1 minute";

    private static final String CLAIM = """
            INSERT INTO fleet_members (name, url, version, incarnation, lease)
            VALUES (?, ?, ?, ?, ?::interval)
            ON CONFLICT (name) DO UPDATE SET url = EXCLUDED.url, version = EXCLUDED.version,
                incarnation = EXCLUDED.incarnation, lease = EXCLUDED.lease, started_at = now(), last_seen = now()
            WHERE fleet_members.last_seen + fleet_members.lease <= now()
               OR fleet_members.incarnation = EXCLUDED.incarnation
            RETURNING name""";
    private static final String RENEW = "UPDATE fleet_members SET last_seen = now() WHERE name = ? AND incarnation = ?";
    private static final String KNOWN =
            "SELECT name, url, version, started_at, last_seen, last_seen + lease > now() AS live"
                    + " FROM fleet_members WHERE last_seen + lease * 2 > now() ORDER BY name";
    private static final String HOLDER =
            "SELECT url, last_seen, last_seen + lease - now() AS remaining" + " FROM fleet_members WHERE name = ?";
    private static final String FORGET =
            "DELETE FROM fleet_members WHERE last_seen + lease + interval '" + FORGET_AFTER + "' < now()";
    private static final String LEAVE = "DELETE FROM fleet_members WHERE name = ? AND incarnation = ?";

    private final DataSource dataSource;
    private final String name;
    private final String url;
    private final String version;
    private final Duration lease;
    private final String incarnation = UUID.randomUUID().toString();
    private final Instant started = Instant.now();
    private final ScheduledExecutorService heartbeat = Executors.newSingleThreadScheduledExecutor(runnable -> {
        Thread thread = new Thread(runnable, "onion-fleet-heartbeat");
        thread.setDaemon(true);
        return thread;
    });
    private final BooleanSupplier admitted;
    private volatile List<Member> live;
    private volatile List<Member> suspect = List.of();

    public JdbcFleetMembers(DataSource dataSource, String name, String url, String version, Duration lease) {
        this(dataSource, name, url, version, lease, () -> true);
    }

    /**
     * @param admitted whether this instance has been admitted to the fleet (its key and tokens checked against the
     *     store): until then it neither claims its name nor renews it, so it is never a member
     */
    public JdbcFleetMembers(
            DataSource dataSource, String name, String url, String version, Duration lease, BooleanSupplier admitted) {
        this.admitted = admitted;
        this.dataSource = dataSource;
        this.name = name;
        this.url = url;
        this.version = version;
        this.lease = lease;
        this.live = List.of(selfAlone());
    }

    /**
     * Claims this instance's name, waiting up to one lease for a previous holder's lease to run out (an instance
     * restarted right after it was killed). While the database cannot be reached the instance starts anyway and the
     * heartbeat claims the name later.
     *
     * @throws DuplicateInstanceException when a live instance keeps the name for a whole lease
     */
    public void join() {
        if (!admitted.getAsBoolean()) {
            LOG.log(System.Logger.Level.WARNING, "not joining the fleet until this instance is admitted to it");
            return;
        }
        long deadline = System.nanoTime() + lease.toNanos();
        while (true) {
            try {
                if (claim()) {
                    refresh();
                    LOG.log(System.Logger.Level.INFO, "joined the fleet as {0} ({1})", name, url);
                    return;
                }
                if (System.nanoTime() > deadline) {
                    throw new DuplicateInstanceException(holderMessage());
                }
                TimeUnit.MILLISECONDS.sleep(Math.max(100, lease.toMillis() / 10));
            } catch (SQLException e) {
                LOG.log(
                        System.Logger.Level.WARNING,
                        "cannot join the fleet now ({0}); the heartbeat tries again",
                        e.getMessage());
                return;
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while joining the fleet", e);
            }
        }
    }

    /** Renews the lease every third of it, so that one or two missed heartbeats do not end the membership. */
    public void startHeartbeat() {
        long period = Math.max(100, lease.toMillis() / 3);
        heartbeat.scheduleWithFixedDelay(this::beat, period, period, TimeUnit.MILLISECONDS);
    }

    @Override
    public String self() {
        return name;
    }

    @Override
    public List<Member> live() {
        return live;
    }

    @Override
    public List<Member> suspect() {
        return suspect;
    }

    /** One heartbeat: renew (or claim again after the row was lost), forget long-dead members, reread the members. */
    void beat() {
        if (!admitted.getAsBoolean()) {
            return;
        }
        try {
            if (!renew() && !claim()) {
                LOG.log(System.Logger.Level.ERROR, "{0}; retrying", holderMessage());
            }
            forgetDead();
            refresh();
        } catch (SQLException | RuntimeException e) {
            LOG.log(System.Logger.Level.WARNING, "fleet heartbeat failed: {0}", e.getMessage());
        }
    }

    @Override
    public void close() {
        heartbeat.shutdownNow();
        try (Connection connection = dataSource.getConnection();
                PreparedStatement leave = connection.prepareStatement(LEAVE)) {
            leave.setString(1, name);
            leave.setString(2, incarnation);
            leave.executeUpdate();
        } catch (SQLException e) {
            LOG.log(
                    System.Logger.Level.WARNING,
                    "could not leave the fleet ({0}); the other members drop {1} after its lease",
                    e.getMessage(),
                    name);
        }
    }

    private boolean claim() throws SQLException {
        try (Connection connection = dataSource.getConnection();
                PreparedStatement claim = connection.prepareStatement(CLAIM)) {
            claim.setString(1, name);
            claim.setString(2, url);
            claim.setString(3, version);
            claim.setString(4, incarnation);
            claim.setString(5, lease.toMillis() + " milliseconds");
            try (ResultSet row = claim.executeQuery()) {
                return row.next();
            }
        }
    }

    private boolean renew() throws SQLException {
        try (Connection connection = dataSource.getConnection();
                PreparedStatement renew = connection.prepareStatement(RENEW)) {
            renew.setString(1, name);
            renew.setString(2, incarnation);
            return renew.executeUpdate() == 1;
        }
    }

    private void forgetDead() throws SQLException {
        try (Connection connection = dataSource.getConnection();
                PreparedStatement forget = connection.prepareStatement(FORGET)) {
            forget.executeUpdate();
        }
    }

    private void refresh() throws SQLException {
        List<Member> members = new ArrayList<>();
        List<Member> silent = new ArrayList<>();
        boolean selfListed = false;
        try (Connection connection = dataSource.getConnection();
                PreparedStatement query = connection.prepareStatement(KNOWN);
                ResultSet rows = query.executeQuery()) {
            while (rows.next()) {
                Member member = new Member(
                        rows.getString("name"),
                        rows.getString("url"),
                        rows.getString("version"),
                        rows.getTimestamp("started_at").toInstant(),
                        rows.getTimestamp("last_seen").toInstant());
                if (member.name().equals(name)) {
                    selfListed = true;
                    members.add(member); // this instance answers, whatever its row says
                } else if (rows.getBoolean("live")) {
                    members.add(member);
                } else {
                    silent.add(member);
                }
            }
        }
        if (!selfListed) {
            members.add(selfAlone());
            members.sort((a, b) -> a.name().compareTo(b.name()));
        }
        live = List.copyOf(members);
        suspect = List.copyOf(silent);
    }

    private String holderMessage() {
        try (Connection connection = dataSource.getConnection();
                PreparedStatement query = connection.prepareStatement(HOLDER)) {
            query.setString(1, name);
            try (ResultSet row = query.executeQuery()) {
                if (row.next()) {
                    return "another live instance of the fleet is named '" + name + "' (" + row.getString("url")
                            + ", last seen " + row.getTimestamp("last_seen").toInstant()
                            + "): give each instance its own onion.fleet.instance-name";
                }
            }
        } catch (SQLException e) {
            // the plain message below still names the problem
        }
        return "another live instance of the fleet is named '" + name
                + "': give each instance its own onion.fleet.instance-name";
    }

    private Member selfAlone() {
        return new Member(name, url, version, started, Instant.now());
    }
}
