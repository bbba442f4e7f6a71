package dev.onionrelay.api.security;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.jspecify.annotations.Nullable;
import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.bind.DefaultValue;

/**
 * API access ({@code onion.api.*}). No tokens configured: an admin token is generated into
 * {@code <state-dir>/admin.token}. {@code read-only}: relays and credentials cannot be created or deleted over the API
 * (instances that serve only the relays declared to them).
 *
 * <p>What one client may hold of the API port: {@code max-connections-per-address} open connections (more are closed
 * as they are accepted; 0: no limit; raise it when a proxy or load balancer in front makes every client one address),
 * {@code request-head-timeout} for the request line and headers from their first byte, and {@code
 * request-body-timeout} for the whole body. Tomcat's own {@code server.tomcat.connection-timeout} still bounds each
 * silence in between.
 */
@ConfigurationProperties("onion.api")
public record ApiProperties(
        @DefaultValue List<Token> tokens,
        @DefaultValue("false") boolean readOnly,
        @DefaultValue("256") int maxConnectionsPerAddress,
        @DefaultValue("10s") Duration requestHeadTimeout,
        @DefaultValue("30s") Duration requestBodyTimeout) {

    public ApiProperties {
        if (maxConnectionsPerAddress < 0) {
            throw new IllegalArgumentException("onion.api.max-connections-per-address must be 0 (no limit) or more");
        }
        if (requestHeadTimeout.isNegative() || requestBodyTimeout.isNegative()) {
            throw new IllegalArgumentException(
                    "onion.api.request-head-timeout and request-body-timeout must not be negative (0: none)");
        }
    }

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
