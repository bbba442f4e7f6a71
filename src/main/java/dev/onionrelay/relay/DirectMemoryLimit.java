package dev.onionrelay.relay;

import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.ByteBufAllocatorMetricProvider;
import io.netty.util.internal.PlatformDependent;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import org.jspecify.annotations.Nullable;

/**
 * The process-wide cap on the direct memory tunnels use (buffers of Netty's default allocator, which every tunnel
 * channel uses): at or above it, new connections are refused at accept ({@code direct_memory}) while open tunnels keep
 * working and, bounded by their own buffers, within it. Refusing at the cap turns a relay full of slow readers into
 * refused newcomers instead of an {@code OutOfMemoryError} in the middle of someone else's tunnel.
 *
 * <p>What a tunnel can hold is bounded by its own buffers (see {@link TunnelReads}), so the cap is reached by many
 * tunnels at once, not by one. Each refusal is counted ({@code onion_tunnels_rejected_total{reason="direct_memory"}}),
 * dated for the health warning, and logged once per {@link #LOG_EVERY}, with the figures, so that an operator sees
 * why connections are closed at once.
 */
public final class DirectMemoryLimit {

    private static final System.Logger LOG = System.getLogger(DirectMemoryLimit.class.getName());

    /** At most one log line per this long while connections are refused. */
    static final Duration LOG_EVERY = Duration.ofMinutes(1);

    private final long limit;
    private final LongAdder refusals = new LongAdder();
    private final AtomicLong lastRefusalMillis = new AtomicLong();
    private final AtomicLong lastLogMillis = new AtomicLong();

    /** @param limit bytes; 0 for no limit */
    DirectMemoryLimit(long limit) {
        this.limit = limit;
    }

    /** 90% of the direct memory the JVM allows (Netty's view of {@code -XX:MaxDirectMemorySize}, or the heap's size). */
    public static long defaultLimit() {
        return PlatformDependent.maxDirectMemory() / 10 * 9;
    }

    /** The cap in bytes, 0 for none. */
    public long limit() {
        return limit;
    }

    /** Direct memory held by the default allocator now (what it took from the system, in use or pooled). */
    public static long used() {
        if (ByteBufAllocator.DEFAULT instanceof ByteBufAllocatorMetricProvider provider) {
            return provider.metric().usedDirectMemory();
        }
        return Math.max(0, PlatformDependent.usedDirectMemory());
    }

    /** Whether new connections are to be refused. */
    boolean reached() {
        return limit > 0 && used() >= limit;
    }

    /** A connection refused because the cap is reached: counted, dated, and logged now and then. */
    void refused(String relay) {
        refusals.increment();
        long now = System.currentTimeMillis();
        lastRefusalMillis.set(now);
        long logged = lastLogMillis.get();
        if (now - logged >= LOG_EVERY.toMillis() && lastLogMillis.compareAndSet(logged, now)) {
            LOG.log(
                    System.Logger.Level.WARNING,
                    "direct memory at its cap ({0} of {1} bytes, onion.limits.max-direct-memory): new connections are"
                            + " refused (relay {2} and any other) until open tunnels free some; open tunnels carry on",
                    Long.toString(used()),
                    Long.toString(limit),
                    relay);
        }
    }

    /** Connections refused at the cap since start. */
    public long refusals() {
        return refusals.sum();
    }

    /** When a connection was last refused at the cap, null if never. */
    public @Nullable Instant lastRefusal() {
        long millis = lastRefusalMillis.get();
        return millis == 0 ? null : Instant.ofEpochMilli(millis);
    }
}
