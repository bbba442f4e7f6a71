package dev.onionrelay.relay;

import java.time.Instant;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import org.jspecify.annotations.Nullable;

/**
 * Times the process ran out of file descriptors: an accept that found none for the new connection, or a tunnel whose
 * socket towards the target could not be opened. Each is counted and dated, for the metric and the health warning;
 * the engine itself carries on (accepting resumes by itself once descriptors are free again).
 */
public final class DescriptorExhaustion {

    /** Where a descriptor was missing. */
    public enum Where {
        ACCEPT,
        CONNECT;

        public String label() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }
    }

    private final LongAdder accepts = new LongAdder();
    private final LongAdder connects = new LongAdder();
    private final AtomicLong lastMillis = new AtomicLong();

    void record(Where where) {
        (where == Where.ACCEPT ? accepts : connects).increment();
        lastMillis.set(System.currentTimeMillis());
    }

    public long count(Where where) {
        return (where == Where.ACCEPT ? accepts : connects).sum();
    }

    /** When descriptors last ran out, null if never. */
    public @Nullable Instant last() {
        long millis = lastMillis.get();
        return millis == 0 ? null : Instant.ofEpochMilli(millis);
    }

    /** Whether {@code failure} (or one of its causes) is the kernel's "Too many open files" (EMFILE or ENFILE). */
    public static boolean isExhaustion(@Nullable Throwable failure) {
        for (Throwable cause = failure; cause != null; cause = cause.getCause()) {
            String message = cause.getMessage();
            if (message != null && message.contains("Too many open files")) {
                return true;
            }
            if (cause.getCause() == cause) {
                break;
            }
        }
        return false;
    }
}
