package dev.onionrelay.relay;

import io.netty.channel.Channel;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import org.jspecify.annotations.Nullable;

/**
 * Who holds a place on one relay, as haproxy and nginx keep unauthenticated connections apart from working ones.
 *
 * <p>A connection starts <em>pending</em>: it has proved nothing yet. Pending connections have a pool of their own,
 * per relay and per client address ({@link AdmissionLimits}); when a pool is full, the oldest pending connection is
 * closed to make room for the new one, those that have not sent a byte before those that have (a real client sends
 * its ClientHello at once; a silent one never does). A flood of silent or stalled connections therefore churns
 * through the pending pool and never reaches the tunnels.
 *
 * <p>A connection is <em>admitted</em> once its outermost ingress handshake succeeded, or, on a relay without ingress
 * layers, once it sent its first byte (there is no handshake to wait for; the target may speak first, so such a relay
 * connects it at once and gives it no first-byte timeout). Only then does it take one of the relay's
 * {@code maxTunnels} slots and one of the engine's, each taken by compare-and-set, so that connections admitted on
 * several event loops at once never overshoot either limit. Admitted tunnels are never closed for newcomers.
 *
 * <p>{@link #release} gives back whatever a connection holds and is safe to call more than once: every path that ends
 * a tunnel calls it.
 */
final class Admission {

    /** Where one connection stands. */
    enum Stage {
        PENDING,
        /** Closed to make room for a newer connection; its pending place went to that one. */
        EVICTED,
        ADMITTED,
        RELEASED
    }

    /** One connection's place. Its stage changes under the admission's lock. */
    static final class Ticket {
        private final Object client;
        private Stage stage = Stage.PENDING;
        /** How to close the connection when it is evicted: its channel, then its tunnel once there is one. */
        private volatile Runnable close;

        private Ticket(Channel channel, Object client) {
            this.client = client;
            this.close = channel::close;
        }

        /** Evictions close the tunnel, which ends its handshakes as abandoned rather than failed. */
        void closeWith(Runnable tunnelClose) {
            close = tunnelClose;
        }
    }

    private final Relay relay;
    private final OnionEngine engine;
    private final AdmissionLimits limits;
    private final AtomicInteger tunnels;
    private final Object lock = new Object();
    private final Pool pending = new Pool();
    private final Map<Object, Pool> pendingByClient = new HashMap<>();

    Admission(Relay relay, OnionEngine engine, AtomicInteger tunnels) {
        this.relay = relay;
        this.engine = engine;
        this.limits = engine.settings().admission();
        this.tunnels = tunnels;
    }

    /**
     * Pending connections, oldest first in each of two groups, closed in this order for newcomers: those that have not
     * sent a byte, and those that have.
     */
    private static final class Pool {
        final LinkedHashSet<Ticket> silent = new LinkedHashSet<>();
        final LinkedHashSet<Ticket> spoken = new LinkedHashSet<>();

        int size() {
            return silent.size() + spoken.size();
        }

        Ticket oldest() {
            return !silent.isEmpty()
                    ? silent.iterator().next()
                    : spoken.iterator().next();
        }

        void spoke(Ticket ticket) {
            if (silent.remove(ticket)) {
                spoken.add(ticket);
            }
        }

        void remove(Ticket ticket) {
            if (!silent.remove(ticket)) {
                spoken.remove(ticket);
            }
        }
    }

    private record Eviction(Ticket ticket, String reason) {}

    /**
     * A new connection joins the pending pool, closing the oldest pending connection of its client, and then of the
     * relay, when either pool is full.
     */
    Ticket enter(Channel channel) {
        Ticket ticket = new Ticket(channel, clientOf(channel));
        List<Eviction> evicted = new ArrayList<>(2);
        synchronized (lock) {
            Pool own = pendingByClient.get(ticket.client);
            while (own != null && own.size() >= limits.maxPendingPerClient()) {
                evicted.add(new Eviction(evict(own.oldest()), "max_pending_per_client"));
            }
            while (pending.size() >= limits.maxPendingPerRelay()) {
                evicted.add(new Eviction(evict(busiestClient().oldest()), "max_pending"));
            }
            // Looked up again: an eviction drops a client's pool once it is empty.
            pendingByClient
                    .computeIfAbsent(ticket.client, client -> new Pool())
                    .silent
                    .add(ticket);
            pending.silent.add(ticket);
            relay.stats().pendingTunnels.set(pending.size());
        }
        for (Eviction eviction : evicted) {
            relay.rejected(eviction.reason());
            eviction.ticket().close.run();
        }
        return ticket;
    }

    /**
     * Under the lock: the pool of the client address with the most pending connections, where a full relay makes room.
     * Fair share, as nginx's {@code limit_conn} per address: whoever floods pays for the flood. Taking the relay's
     * oldest silent connection instead closed real clients whose first flight the event loop had not read yet (under a
     * flood it reads it late, so it looks silent): 4 of 80 real clients in {@code AdmissionFloodTest}.
     */
    private Pool busiestClient() {
        Pool busiest = null;
        for (Pool pool : pendingByClient.values()) {
            if (busiest == null || pool.size() > busiest.size()) {
                busiest = pool;
            }
        }
        return busiest != null ? busiest : pending;
    }

    /** The connection sent its first byte: it is no longer among the first to be closed for a newcomer. */
    void spoke(Ticket ticket) {
        synchronized (lock) {
            if (ticket.stage == Stage.PENDING) {
                pending.spoke(ticket);
                Pool own = pendingByClient.get(ticket.client);
                if (own != null) {
                    own.spoke(ticket);
                }
            }
        }
    }

    boolean admitted(Ticket ticket) {
        synchronized (lock) {
            return ticket.stage == Stage.ADMITTED;
        }
    }

    /**
     * Moves a pending connection to the tunnels: it leaves the pending pool and takes a slot of the relay and one of
     * the engine.
     *
     * @return null when admitted; else why not ({@code max_tunnels}, {@code max_tunnels_total}, or {@code evicted}
     *     for a connection closed meanwhile to make room, already counted), and the connection holds nothing
     */
    @Nullable
    String admit(Ticket ticket) {
        synchronized (lock) {
            if (ticket.stage != Stage.PENDING) {
                return ticket.stage == Stage.ADMITTED ? null : "evicted";
            }
            leave(ticket);
            ticket.stage = Stage.RELEASED;
        }
        if (!takeSlot(tunnels, relay.spec().options().maxTunnels())) {
            return "max_tunnels";
        }
        if (!engine.tryOpenTunnel()) {
            tunnels.decrementAndGet();
            return "max_tunnels_total";
        }
        synchronized (lock) {
            ticket.stage = Stage.ADMITTED;
        }
        return null;
    }

    /** Gives back what the connection holds, whatever its stage; idempotent. */
    void release(Ticket ticket) {
        Stage was;
        synchronized (lock) {
            was = ticket.stage;
            if (was == Stage.PENDING) {
                leave(ticket);
            }
            ticket.stage = Stage.RELEASED;
        }
        if (was == Stage.ADMITTED) {
            tunnels.decrementAndGet();
            engine.tunnelEnded();
        }
    }

    /** Takes one slot below {@code max}, by compare-and-set: never check-then-increment across event loops. */
    static boolean takeSlot(AtomicInteger counter, int max) {
        while (true) {
            int taken = counter.get();
            if (taken >= max) {
                return false;
            }
            if (counter.compareAndSet(taken, taken + 1)) {
                return true;
            }
        }
    }

    private Ticket evict(Ticket ticket) {
        leave(ticket);
        ticket.stage = Stage.EVICTED;
        return ticket;
    }

    /** Under the lock: the ticket leaves both pools. */
    private void leave(Ticket ticket) {
        pending.remove(ticket);
        Pool own = pendingByClient.get(ticket.client);
        if (own != null) {
            own.remove(ticket);
            if (own.size() == 0) {
                pendingByClient.remove(ticket.client);
            }
        }
        relay.stats().pendingTunnels.set(pending.size());
    }

    /** The client's IP address (its port differs per connection); anything else as its text. */
    private static Object clientOf(Channel channel) {
        if (channel.remoteAddress() instanceof InetSocketAddress inet && inet.getAddress() != null) {
            return inet.getAddress();
        }
        return String.valueOf(channel.remoteAddress());
    }
}
