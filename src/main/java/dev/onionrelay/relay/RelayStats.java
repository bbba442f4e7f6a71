package dev.onionrelay.relay;

import java.time.Instant;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;
import org.jspecify.annotations.Nullable;

/** Counters of one relay, updated from event loops and read from anywhere. */
public final class RelayStats {

    /** Tunnels admitted (see {@link Admission}): what {@code maxTunnels} limits. */
    final AtomicInteger activeTunnels = new AtomicInteger();
    /** Connections accepted and not yet admitted. */
    final AtomicInteger pendingTunnels = new AtomicInteger();

    final LongAdder totalTunnels = new LongAdder();
    final LongAdder rejectedTunnels = new LongAdder();
    final LongAdder handshakesSucceeded = new LongAdder();
    final LongAdder handshakeFailures = new LongAdder();
    final LongAdder bytesIn = new LongAdder();
    final LongAdder bytesOut = new LongAdder();
    private final ConcurrentHashMap<String, LongAdder> failuresByLayer = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<String, LongAdder> failuresByReason = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<String, LongAdder> connectFailures = new ConcurrentHashMap<>();
    private volatile @Nullable HandshakeFailure lastFailure;

    /**
     * One handshake failure, as shown in status: where, why and from whom. {@code alert} says whether the alert that
     * names it was {@code received} from the peer (the peer's complaint) or {@code sent} by us (ours); null when the
     * reason is no alert.
     */
    public record HandshakeFailure(
            Instant at,
            String side,
            String layer,
            String reason,
            @Nullable String alert,
            String peer) {}

    void recordFailure(HandshakeFailure failure) {
        handshakeFailures.increment();
        failuresByLayer
                .computeIfAbsent(failure.side() + "/" + failure.layer(), k -> new LongAdder())
                .increment();
        failuresByReason.computeIfAbsent(failure.reason(), k -> new LongAdder()).increment();
        lastFailure = failure;
    }

    void recordConnectFailure(String reason) {
        connectFailures.computeIfAbsent(reason, k -> new LongAdder()).increment();
    }

    public long connectFailures() {
        return connectFailures.values().stream().mapToLong(LongAdder::sum).sum();
    }

    public int activeTunnels() {
        return activeTunnels.get();
    }

    /** Connections accepted whose outermost ingress handshake (or first byte, without ingress layers) is to come. */
    public int pendingTunnels() {
        return pendingTunnels.get();
    }

    public long totalTunnels() {
        return totalTunnels.sum();
    }

    public long rejectedTunnels() {
        return rejectedTunnels.sum();
    }

    public long handshakesSucceeded() {
        return handshakesSucceeded.sum();
    }

    public long handshakeFailures() {
        return handshakeFailures.sum();
    }

    /** Plaintext bytes received from clients and sent towards the target. */
    public long bytesIn() {
        return bytesIn.sum();
    }

    /** Plaintext bytes received from the target and sent back to clients. */
    public long bytesOut() {
        return bytesOut.sum();
    }

    /** Failures keyed by {@code side/layer}, e.g. {@code ingress/0}. */
    public Map<String, Long> failuresByLayer() {
        return snapshot(failuresByLayer);
    }

    public Map<String, Long> failuresByReason() {
        return snapshot(failuresByReason);
    }

    public @Nullable HandshakeFailure lastFailure() {
        return lastFailure;
    }

    private static Map<String, Long> snapshot(Map<String, LongAdder> counters) {
        Map<String, Long> result = new TreeMap<>();
        counters.forEach((key, value) -> result.put(key, value.sum()));
        return result;
    }
}
