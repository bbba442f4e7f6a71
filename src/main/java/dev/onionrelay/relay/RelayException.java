package dev.onionrelay.relay;

import org.jspecify.annotations.Nullable;

/** A relay request that cannot be carried out; {@link Kind} says which HTTP status the API answers with. */
public final class RelayException extends RuntimeException {

    /** Closed set of failure kinds: invalid input, policy refusal, unknown relay, conflict, limit reached. */
    public enum Kind {
        INVALID,
        FORBIDDEN,
        NOT_FOUND,
        CONFLICT,
        LIMIT,
        /** The engine did not answer in time: try again. */
        UNAVAILABLE
    }

    private final Kind kind;
    private final @Nullable String field;

    public RelayException(Kind kind, @Nullable String field, String message) {
        super(message);
        this.kind = kind;
        this.field = field;
    }

    public RelayException(Kind kind, @Nullable String field, String message, Throwable cause) {
        super(message, cause);
        this.kind = kind;
        this.field = field;
    }

    public Kind kind() {
        return kind;
    }

    /** The request field at fault, such as {@code egress[1].trust}, or null. */
    public @Nullable String field() {
        return field;
    }
}
