package dev.onionrelay.relay;

import dev.onionrelay.layer.PreparedLayer;
import io.netty.channel.Channel;
import java.time.Instant;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import org.jspecify.annotations.Nullable;

/**
 * A listener with its definition (ingress stack, target, egress stack, options: one {@link RelayDefinition} per
 * revision) and the tunnels it has open. Created by {@link OnionEngine#open}.
 */
public final class Relay {

    private static final System.Logger LOG = System.getLogger(Relay.class.getName());

    private final String id;
    private final Instant createdAt;
    /**
     * The definition new tunnels take, in one volatile field so that a replacement is seen whole: never new ingress
     * with old egress, or a new target with old options. Written under this relay's lock, read without it.
     */
    private volatile RelayDefinition definition;

    private final RelayStats stats = new RelayStats();
    private final ConcurrentHashMap<String, Tunnel> tunnels = new ConcurrentHashMap<>();
    private final RelayObserver observer;
    private volatile RelayState state;
    private volatile @Nullable String error;
    private volatile @Nullable Channel listener;
    /** Pending connections and tunnel slots. */
    private final Admission admission;

    private final OnionEngine engine;

    Relay(
            String id,
            RelaySpec spec,
            List<PreparedLayer> ingressLayers,
            List<PreparedLayer> egressLayers,
            Instant createdAt,
            RelayObserver observer,
            OnionEngine engine) {
        this.id = id;
        this.engine = engine;
        this.definition = RelayDefinition.first(
                spec, ingressLayers, egressLayers, engine.settings().targetDownFor());
        this.admission = new Admission(this, engine, stats.activeTunnels);
        this.createdAt = createdAt;
        this.observer = observer;
        this.state = RelayState.STOPPED;
    }

    public String id() {
        return id;
    }

    /** The spec new tunnels follow, with the port actually bound once listening. */
    public RelaySpec spec() {
        return definition.spec();
    }

    /**
     * The definition new tunnels take. An open tunnel follows the one it took when it was accepted ({@link
     * Tunnel#definition}), whatever replaced this one since.
     */
    public RelayDefinition definition() {
        return definition;
    }

    public RelayState state() {
        return state;
    }

    /** Why the relay is {@link RelayState#FAILED}, else null. */
    public @Nullable String error() {
        return error;
    }

    public Instant createdAt() {
        return createdAt;
    }

    public RelayStats stats() {
        return stats;
    }

    /**
     * Replaces the prepared layers (TLS contexts) that tunnels accepted from now on push, e.g. after a credential's
     * files were rotated. Open tunnels are untouched: their {@code SslHandler}s hold the engines they were created with,
     * so they keep running on the old key material until they close. The layers were prepared from {@code from}, the
     * spec the relay had when the caller read it; when a replacement ({@link #replace}) came in between, nothing is
     * swapped and the answer is false: the caller prepares again from the current spec (the replacement's own contexts
     * may predate the new key material).
     *
     * @return whether the layers were swapped in
     */
    public synchronized boolean replaceLayers(RelaySpec from, List<PreparedLayer> ingress, List<PreparedLayer> egress) {
        RelayDefinition current = definition;
        if (!current.spec().equals(from)) {
            return false;
        }
        if (!current.sameLayersAs(ingress, egress)) {
            throw new IllegalArgumentException(
                    "replacement layers of relay '" + current.spec().name() + "' differ from its spec");
        }
        definition = current.withLayers(ingress, egress);
        return true;
    }

    /** The revision of the definition new tunnels follow: 1 when created, one more with every {@link #replace}. */
    public long revision() {
        return definition.revision();
    }

    /** Takes the revision a relay opened again from its stored form had (a restart, another instance of a fleet). */
    public synchronized void resumeAt(long storedRevision) {
        definition = definition.atRevision(storedRevision);
    }

    /**
     * Replaces the relay's definition in place: tunnels accepted from now on follow {@code next} (its stacks, target,
     * options), under {@code nextRevision}; tunnels accepted before, open or still setting up, keep the definition they
     * took when they were accepted ({@link RelayDefinition}). The listener stays unless
     * {@code newListener} is given (the listen address changed and the caller bound it already): then it takes over and
     * the old one is closed after the swap, so no connection is refused in between. Without one, {@code next} must
     * listen where the relay does (its port pinned by the caller).
     */
    public void replace(
            RelaySpec next,
            List<PreparedLayer> ingress,
            List<PreparedLayer> egress,
            long nextRevision,
            @Nullable Channel newListener) {
        Channel oldListener = listener;
        synchronized (this) {
            RelaySpec spec = newListener != null
                    ? next.withListenPort(((java.net.InetSocketAddress) newListener.localAddress()).getPort())
                    : next;
            definition = definition.next(
                    spec, ingress, egress, nextRevision, engine.settings().targetDownFor());
            if (newListener != null) {
                listener = newListener;
            }
        }
        if (newListener != null && oldListener != null) {
            oldListener.close().syncUninterruptibly();
        }
    }

    /** Sets the layers of a relay that failed to open and is about to try again (its stacks were empty). */
    synchronized void layers(List<PreparedLayer> ingress, List<PreparedLayer> egress) {
        definition = definition.withLayers(ingress, egress);
    }

    /** Open tunnels, oldest first. */
    public List<Tunnel> tunnels() {
        return tunnels.values().stream()
                .sorted(Comparator.comparingLong(Tunnel::sequence))
                .toList();
    }

    public Optional<Tunnel> tunnel(String tunnelId) {
        return Optional.ofNullable(tunnels.get(tunnelId));
    }

    void listening(Channel channel, int port) {
        this.listener = channel;
        synchronized (this) {
            definition = definition.withListenPort(port);
        }
        this.state = RelayState.LISTENING;
        this.error = null;
    }

    public void failed(String why) {
        this.error = why;
        this.state = RelayState.FAILED;
    }

    /** Pending connections and tunnel slots of this relay. */
    Admission admission() {
        return admission;
    }

    /**
     * Takes one accepted connection into the pending pool (see {@link Admission}) and lists its tunnel, unless the
     * relay is stopped or direct memory is at its cap. Whatever fails here closes the connection and gives back its
     * place.
     */
    void accepted(Channel channel) {
        accepted(channel, Tunnel::new);
    }

    /** How a tunnel is made for an accepted connection; a seam for the test of a constructor that throws. */
    @FunctionalInterface
    interface TunnelFactory {
        Tunnel create(
                Relay relay,
                RelayDefinition definition,
                Channel channel,
                OnionEngine engine,
                RelayObserver observer,
                Admission.Ticket ticket);
    }

    void accepted(Channel channel, TunnelFactory factory) {
        // Read once: the tunnel follows this definition to its end, whatever replaces it meanwhile.
        RelayDefinition current = definition;
        RelaySpec spec = current.spec();
        // While every tunnel slot is taken, a newcomer could not be admitted anyway: refused at once, before it costs a
        // handshake or a connect to the target. The compare-and-set at admission stays the judge.
        String refusal = state != RelayState.LISTENING
                ? "stopped"
                : engine.directMemory().reached()
                        ? "direct_memory"
                        : stats.activeTunnels.get() >= spec.options().maxTunnels()
                                ? "max_tunnels"
                                : engine.openTunnels() >= engine.settings().maxTunnels() ? "max_tunnels_total" : null;
        if (refusal != null) {
            if (refusal.equals("direct_memory")) {
                engine.directMemory().refused(spec.name());
            }
            rejected(refusal);
            channel.close();
            return;
        }
        Admission.Ticket ticket = admission.enter(channel);
        Tunnel tunnel;
        try {
            tunnel = factory.create(this, current, channel, engine, observer, ticket);
        } catch (RuntimeException | Error broken) {
            admission.release(ticket);
            channel.close();
            rejected("error");
            LOG.log(System.Logger.Level.WARNING, "relay " + spec.name() + ": could not set up a tunnel", broken);
            return;
        }
        // Reads sized to what the target's channel can still take (TunnelReads); the target's side reads into this one.
        channel.config().setRecvByteBufAllocator(TunnelReads.into(tunnel::egressChannel));
        ticket.closeWith(tunnel::close);
        tunnels.put(tunnel.id(), tunnel);
        stats.totalTunnels.increment();
        try {
            observer.tunnelOpened(this, tunnel);
        } catch (RuntimeException | Error broken) {
            // An observer must not leave a listed tunnel behind (a class that cannot load without a descriptor, say).
            tunnel.close();
            LOG.log(System.Logger.Level.WARNING, "relay " + spec.name() + ": observing a new tunnel failed", broken);
        }
    }

    /** A connection refused or given up before its tunnel opened: counted, by reason. */
    void rejected(String reason) {
        stats.rejectedTunnels.increment();
        observer.tunnelRejected(this, reason);
    }

    /** The tunnel ended: its places go back and it is no longer listed. Idempotent. */
    void tunnelClosed(Tunnel tunnel, Admission.Ticket ticket) {
        admission.release(ticket);
        if (tunnels.remove(tunnel.id()) != null) {
            observer.tunnelClosed(this, tunnel);
        }
    }

    /** Closes the listener and every tunnel. */
    public void stop() {
        stopListening();
        tunnels.values().forEach(Tunnel::close);
    }

    /**
     * Closes the listener and leaves open tunnels running (a drain): from now on a connection to the port is refused by
     * the operating system, and one accepted just before is closed unadmitted ({@link #accepted}: "stopped").
     * Idempotent.
     */
    public void stopListening() {
        Channel channel = listener;
        if (state == RelayState.LISTENING) {
            state = RelayState.STOPPED;
        }
        if (channel != null) {
            channel.close().syncUninterruptibly();
        }
    }

    @Override
    public String toString() {
        return "Relay[" + spec().name() + " " + id + " " + state + "]";
    }
}
