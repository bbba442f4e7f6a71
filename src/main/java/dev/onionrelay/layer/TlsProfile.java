package dev.onionrelay.layer;

import java.util.List;
import java.util.Locale;
import org.jspecify.annotations.Nullable;

/**
 * A layer's TLS profile: {@code default} (TLS 1.3 and 1.2, AEAD suites) or {@code strict} (TLS 1.3 with AES-256-GCM
 * only; explicit protocol and cipher lists may narrow it, never widen it).
 */
public enum TlsProfile {
    DEFAULT,
    STRICT;

    /** The strict profile's protocols. */
    public static final List<String> STRICT_PROTOCOLS = List.of("TLSv1.3");

    /** The strict profile's suites: TLS 1.3 with AES-256-GCM only. */
    public static final List<String> STRICT_CIPHERS = List.of("TLS_AES_256_GCM_SHA384");

    /** As requests and configuration write it: {@code default}, {@code strict}. */
    public String label() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** The profile a request names (any case, surrounding blanks ignored); null for anything else. */
    public static @Nullable TlsProfile named(String name) {
        for (TlsProfile profile : values()) {
            if (profile.label().equals(name.trim().toLowerCase(Locale.ROOT))) {
                return profile;
            }
        }
        return null;
    }
}
