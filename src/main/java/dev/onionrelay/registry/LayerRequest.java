package dev.onionrelay.registry;

import dev.onionrelay.layer.allow.PeerAllow;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * One layer as requested; the layer table of docs/API.md gives the defaults. {@code profile} is {@code default} or
 * {@code strict} (TLS 1.3 only with AES-256-GCM; see {@link dev.onionrelay.layer.TlsProfile#STRICT_CIPHERS}).
 */
public record LayerRequest(
        @Nullable String name,
        @Nullable String role,
        @Nullable String credential,
        @Nullable String trust,
        @Nullable String serverName,
        @Nullable String verify,
        @Nullable String clientAuth,
        @Nullable List<String> protocols,
        @Nullable List<String> ciphers,
        @Nullable List<String> alpn,
        @Nullable String handshakeTimeout,
        @Nullable String connect,
        @Nullable String profile,
        @Nullable PeerAllow allow,
        @Nullable String padding) {}
