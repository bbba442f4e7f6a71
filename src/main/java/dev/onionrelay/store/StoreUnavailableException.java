package dev.onionrelay.store;

import java.time.Duration;
import org.jspecify.annotations.Nullable;

/**
 * The shared store cannot be reached, so a change cannot be made now (nothing of it was applied). Relays keep
 * serving; the API answers 503 with {@code Retry-After}.
 */
public final class StoreUnavailableException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    private final Duration retryAfter;

    public StoreUnavailableException(String message, Duration retryAfter, @Nullable Throwable cause) {
        super(message, cause);
        this.retryAfter = retryAfter;
    }

    /** How long a client should wait before trying again. */
    public Duration retryAfter() {
        return retryAfter;
    }
}
