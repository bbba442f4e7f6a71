package dev.onionrelay.relay.upstream;

import java.util.Locale;
import org.jspecify.annotations.Nullable;

/** Which PROXY protocol header, if any, tells the target the original client's address (haproxy's send-proxy). */
public enum ProxyProtocol {
    /** No header: the target sees the relay as its client. */
    OFF,
    /** The human-readable header: {@code PROXY TCP4 src dst sport dport\r\n}. */
    V1,
    /** The binary header with its 12-byte signature. */
    V2;

    /** The value for {@code "v1"} or {@code "v2"} (any case), or null for anything else. */
    public static @Nullable ProxyProtocol named(String value) {
        return switch (value.trim().toLowerCase(Locale.ROOT)) {
            case "v1" -> V1;
            case "v2" -> V2;
            default -> null;
        };
    }

    /** How the API names it: {@code v1}, {@code v2}, or null when off. */
    public @Nullable String label() {
        return this == OFF ? null : name().toLowerCase(Locale.ROOT);
    }
}
