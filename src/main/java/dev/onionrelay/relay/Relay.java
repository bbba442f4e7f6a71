package dev.onionrelay.relay;

import dev.onionrelay.layer.PreparedLayer;
import dev.onionrelay.relay.target.TargetBalancer;
import io.netty.channel.Channel;
import java.time.Instant;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import org.jspecify.annotations.Nullable;

/**
 * A listener with its ingress stack, target and egress stack, and the tunnels it has open. Created by
 * {@link OnionEngine#open}.
 */
public final class Relay {

    private static final System.Logger LOG = System.getLogger(Relay.class.getName());

    private final String id;
    private final Instant createdAt;
    // Both stacks in one volatile field so that a replacement is seen whole: never new ingress with old egress.
    private volatile Stacks stacks;
    private final RelayStats stats = new RelayStats();
    private final ConcurrentHashMap<String, Tunnel> tunnels = new ConcurrentHashMap<>();
    private final RelayObserver observer;
    private volatile RelaySpec spec;
    private volatile RelayState state;
    private volatile @Nullable String error;
    private volatile @Nullable Channel listener;
    /** Which of the fixed targets each new tunnel tries first, and which are down; shared by its tunnels. */
    private volatile TargetBalancer balancer;
    /** The definition's revision: 1 when created, one more with every replacement ({@link #replace}). */
    private volatile long revision = 1;
    /** The revision each open tunnel was accepted under, by tunnel id. */
    private final ConcurrentHashMap<String, Long> tunnelRevisions = new ConcurrentHashMap<>();
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
        this.spec = spec;
        this.engine = engine;
        this.balancer = new TargetBalancer(spec.target(), engine.settings().targetDownFor());
        this.admission = new Admission(this, engine, stats.activeTunnels);
        this.stacks = new Stacks(ingressLayers, egressLayers);
        this.createdAt = createdAt;
        this.observer = observer;
        this.state = RelayState.STOPPED;
    }

    public String id() {
        return id;
    }

    /** The spec, with the port actually bound once listening. */
    public RelaySpec spec() {
        return spec;
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

    List<PreparedLayer> ingressLayers() {
        return stacks.ingress();
    }

    List<PreparedLayer> egressLayers() {
        return stacks.egress();
    }

    /**
     * Replaces the prepared layers (TLS contexts) that tunnels accepted from now on push, e.g. after a credential's
     * files were rotated. Open tunnels are untouched: their {@code SslHandler}s hold the engines they were created with,
     * so they keep running on the old key material until they close. The spec does not change, only the contexts built
     * from it, so the new lists must describe the same layers in the same order.
     */
    public void replaceLayers(List<PreparedLayer> ingress, List<PreparedLayer> egress) {
        Stacks current = stacks;
        if (!sameLayers(current.ingress(), ingress) || !sameLayers(current.egress(), egress)) {
            throw new IllegalArgumentException(
                    "replacement layers of relay '" + spec.name() + "' differ from its spec");
        }
        stacks = new Stacks(ingress, egress);
    }

    /** The revision of the definition new tunnels follow: 1 when created, one more with every {@link #replace}. */
    public long revision() {
        return revision;
    }

    /** The revision {@code tunnel} was accepted under (the current one for a tunnel not listed). */
    public long revisionOf(Tunnel tunnel) {
        return tunnelRevisions.getOrDefault(tunnel.id(), revision);
    }

    /** Takes the revision a relay opened again from its stored form had (a restart, another instance of a fleet). */
    public void resumeAt(long storedRevision) {
        this.revision = storedRevision;
    }

    /**
     * Replaces the relay's definition in place: tunnels accepted from now on follow {@code next} (its stacks, target,
     * options), under {@code nextRevision}; open tunnels keep running as they were set up (their layers are on their
     * pipelines; the spec they read after set-up is its name and timeouts). The listener stays unless
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
            if (!next.target().equals(spec.target())) {
                balancer = new TargetBalancer(next.target(), engine.settings().targetDownFor());
            }
            stacks = new Stacks(ingress, egress);
            spec = newListener != null
                    ? next.withListenPort(((java.net.InetSocketAddress) newListener.localAddress()).getPort())
                    : next;
            revision = nextRevision;
            if (newListener != null) {
                listener = newListener;
            }
        }
        if (newListener != null && oldListener != null) {
            oldListener.close().syncUninterruptibly();
        }
    }

    /** Sets the layers of a relay that failed to open and is about to try again (its stacks were empty). */
    void layers(List<PreparedLayer> ingress, List<PreparedLayer> egress) {
        stacks = new Stacks(ingress, egress);
    }

    private static boolean sameLayers(List<PreparedLayer> current, List<PreparedLayer> replacement) {
        if (current.size() != replacement.size()) {
            return false;
        }
        for (int i = 0; i < current.size(); i++) {
            if (!current.get(i).spec().equals(replacement.get(i).spec())) {
                return false;
            }
        }
        return true;
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
        this.spec = spec.withListenPort(port);
        this.state = RelayState.LISTENING;
        this.error = null;
    }

    public void failed(String why) {
        this.error = why;
        this.state = RelayState.FAILED;
    }

    /** The order and up/down state of this relay's fixed targets, shared by its tunnels. */
    TargetBalancer balancer() {
        return balancer;
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
                Relay relay, Channel channel, OnionEngine engine, RelayObserver observer, Admission.Ticket ticket);
    }

    void accepted(Channel channel, TunnelFactory factory) {
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
        // Read before the tunnel reads the definition, so that a replacement in between shows as the older revision.
        long acceptedUnder = revision;
        Tunnel tunnel;
        try {
            tunnel = factory.create(this, channel, engine, observer, ticket);
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
        tunnelRevisions.put(tunnel.id(), acceptedUnder);
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
        tunnelRevisions.remove(tunnel.id());
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
        return "Relay[" + spec.name() + " " + id + " " + state + "]";
    }

    /** The layers every new tunnel pushes, outermost first, on each side. */
    private record Stacks(List<PreparedLayer> ingress, List<PreparedLayer> egress) {
        Stacks {
            ingress = List.copyOf(ingress);
            egress = List.copyOf(egress);
        }
    }
}
