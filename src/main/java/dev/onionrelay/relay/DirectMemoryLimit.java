package dev.onionrelay.relay;

import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.ByteBufAllocatorMetricProvider;
import io.netty.util.internal.PlatformDependent;

/**
 * The process-wide cap on the direct memory tunnels use (buffers of Netty's default allocator, which every tunnel
 * channel uses): at or above it, new connections are refused at accept ({@code direct_memory}) while open tunnels keep
 * working and, bounded by their own buffers, within it. Refusing at the cap turns a relay full of slow readers into
 * refused newcomers instead of an {@code OutOfMemoryError} in the middle of someone else's tunnel.
 */
public final class DirectMemoryLimit {

    private final long limit;

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
}
