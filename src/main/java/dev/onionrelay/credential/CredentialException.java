package dev.onionrelay.credential;

import org.jspecify.annotations.Nullable;

/**
 * A credential request that cannot be honoured, with the request field it is about so the API
 * layer can answer with a precise problem (INVALID → 400, CONFLICT → 409, NOT_FOUND → 404, UNAVAILABLE → 503).
 *
 * <p>Messages are shown to API users and written to logs, so they never contain key material.
 */
public final class CredentialException extends RuntimeException {

    /** Why the request failed; decides the HTTP status. */
    public enum Kind {
        INVALID,
        CONFLICT,
        NOT_FOUND,
        /** The shared store cannot be reached; worth retrying (503). */
        UNAVAILABLE
    }

    private static final long serialVersionUID = 1L;

    private final Kind kind;
    private final @Nullable String field;

    public CredentialException(Kind kind, @Nullable String field, String message) {
        this(kind, field, message, null);
    }

    public CredentialException(Kind kind, @Nullable String field, String message, @Nullable Throwable cause) {
        super(message, cause);
        this.kind = kind;
        this.field = field;
    }

    public static CredentialException invalid(String field, String message) {
        return new CredentialException(Kind.INVALID, field, message);
    }

    public static CredentialException invalid(String field, String message, Throwable cause) {
        return new CredentialException(Kind.INVALID, field, message, cause);
    }

    public static CredentialException conflict(String field, String message) {
        return new CredentialException(Kind.CONFLICT, field, message);
    }

    public static CredentialException notFound(String name) {
        return new CredentialException(Kind.NOT_FOUND, "name", "unknown credential '" + name + "'");
    }

    public Kind kind() {
        return kind;
    }

    /** The JSON field of the request this error is about, e.g. {@code generate.issuer}; null if none. */
    public @Nullable String field() {
        return field;
    }
}
