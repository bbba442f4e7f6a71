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
 * A listener with its ingress stack, target and egress stack, and the tunnels it has open. Created by
 * {@link OnionEngine#open}.
 */
public final class Relay {

    private final String id;
    private final Instant createdAt;
    private final List<PreparedLayer> ingressLayers;
    private final List<PreparedLayer> egressLayers;
    private final RelayStats stats = new RelayStats();
    private final ConcurrentHashMap<String, Tunnel> tunnels = new ConcurrentHashMap<>();
    private final RelayObserver observer;
    private volatile RelaySpec spec;
    private volatile RelayState state;
    private volatile @Nullable String error;
    private volatile @Nullable Channel listener;

    Relay(
            String id,
            RelaySpec spec,
            List<PreparedLayer> ingressLayers,
            List<PreparedLayer> egressLayers,
            Instant createdAt,
            RelayObserver observer) {
        this.id = id;
        this.spec = spec;
        this.ingressLayers = List.copyOf(ingressLayers);
        this.egressLayers = List.copyOf(egressLayers);
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
        return ingressLayers;
    }

    List<PreparedLayer> egressLayers() {
        return egressLayers;
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

    void failed(String why) {
        this.error = why;
        this.state = RelayState.FAILED;
    }

    /** Accepts one connection, unless the relay is at its tunnel limit. */
    void accepted(Channel channel, Transport transport) {
        if (state != RelayState.LISTENING
                || stats.activeTunnels.get() >= spec.options().maxTunnels()) {
            stats.rejectedTunnels.increment();
            observer.tunnelRejected(this, state != RelayState.LISTENING ? "stopped" : "max_tunnels");
            channel.close();
            return;
        }
        Tunnel tunnel = new Tunnel(this, channel, transport, observer);
        tunnels.put(tunnel.id(), tunnel);
        stats.activeTunnels.incrementAndGet();
        stats.totalTunnels.increment();
        observer.tunnelOpened(this, tunnel);
    }

    void tunnelClosed(Tunnel tunnel) {
        if (tunnels.remove(tunnel.id()) != null) {
            stats.activeTunnels.decrementAndGet();
            observer.tunnelClosed(this, tunnel);
        }
    }

    /** Closes the listener and every tunnel. */
    public void stop() {
        Channel channel = listener;
        if (state == RelayState.LISTENING) {
            state = RelayState.STOPPED;
        }
        if (channel != null) {
            channel.close().syncUninterruptibly();
        }
        tunnels.values().forEach(Tunnel::close);
    }

    @Override
    public String toString() {
        return "Relay[" + spec.name() + " " + id + " " + state + "]";
    }
}
