package dev.onionrelay.api.security;

import java.nio.file.Path;
import java.util.List;
import org.jspecify.annotations.Nullable;
import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.bind.DefaultValue;

/**
 * API access ({@code onion.api.*}). No tokens configured: an admin token is generated into
 * {@code <state-dir>/admin.token}. {@code read-only}: relays and credentials cannot be created or deleted over the API
 * (instances that serve only the relays declared to them).
 */
@ConfigurationProperties("onion.api")
public record ApiProperties(
        @DefaultValue List<Token> tokens,
        @DefaultValue("false") boolean readOnly) {

    /**
     * One API token: a name for audit lines, a scope ({@code read} or {@code admin}; anything else stops the start
     * naming the key), and the secret as plain text, as its SHA-256 (hex), or as a file holding the plain text (a
     * mounted Kubernetes Secret).
     */
    public record Token(
            String name,
            @DefaultValue("read") ApiTokens.Scope scope,
            @Nullable String secret,
            @Nullable String sha256,
            @Nullable Path file) {}
}
