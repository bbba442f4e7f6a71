package dev.onionrelay.registry;

import java.time.Duration;
import java.util.Objects;

/**
 * How often a FAILED relay tries to listen again: after {@code initial}, then after twice the previous wait, never
 * waiting longer than {@code max}. A relay whose port is taken at start thus comes back within {@code max} of the
 * port being freed, without anyone having to act.
 *
 * @param initial the wait before the first retry
 * @param max the longest wait between two tries
 */
public record ListenRetry(Duration initial, Duration max) {

    public static final ListenRetry DEFAULTS = new ListenRetry(Duration.ofSeconds(1), Duration.ofSeconds(30));

    public ListenRetry {
        Objects.requireNonNull(initial, "initial");
        Objects.requireNonNull(max, "max");
        if (initial.isNegative() || initial.isZero()) {
            throw new IllegalArgumentException("the first retry wait must be positive, not " + initial);
        }
        if (max.compareTo(initial) < 0) {
            throw new IllegalArgumentException(
                    "the longest retry wait " + max + " is shorter than the first " + initial);
        }
    }

    /** The wait before try number {@code retry} (1 for the first retry). */
    public Duration delay(int retry) {
        Duration delay = initial;
        for (int i = 1; i < retry && delay.compareTo(max) < 0; i++) {
            delay = delay.multipliedBy(2);
        }
        return delay.compareTo(max) < 0 ? delay : max;
    }
}
