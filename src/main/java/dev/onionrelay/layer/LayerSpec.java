package dev.onionrelay.layer;

import dev.onionrelay.layer.allow.PeerPolicy;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * One TLS layer as configured: every default already applied (see {@link LayerDefaults}).
 *
 * @param name label in status and metrics
 * @param role client or server in this layer
 * @param credential identity credential this layer presents, or null for none
 * @param trust trust credential that verifies the peer, or {@code "system"} for the JDK's CA store
 * @param serverName SNI and name to verify (client role), or null
 * @param verify how the peer is checked
 * @param clientAuth whether a server layer asks for a client certificate
 * @param protocols enabled protocol versions
 * @param ciphers enabled cipher suites (empty: our AEAD default list)
 * @param alpn application protocols to offer or accept (empty: no ALPN)
 * @param handshakeTimeout how long the handshake of this layer may take once it starts
 * @param connect egress only: {@code host:port} asked for with HTTP CONNECT through this layer once its handshake is
 *     done, before the next layer starts (an HTTPS proxy hop); null for none
 * @param allow which peer identities this layer accepts once the chain is verified, compiled; null for any
 * @param padding whether the layer is shaped ({@code padding: "on"}, docs/SHAPING.md): framed records negotiated by
 *     ALPN between two onion-relay ends
 */
public record LayerSpec(
        String name,
        Role role,
        @Nullable String credential,
        String trust,
        @Nullable String serverName,
        Verification verify,
        ClientAuthMode clientAuth,
        List<String> protocols,
        List<String> ciphers,
        List<String> alpn,
        Duration handshakeTimeout,
        @Nullable String connect,
        @Nullable PeerPolicy allow,
        boolean padding) {

    /** Trust value that means the JDK's default CA store. */
    public static final String SYSTEM_TRUST = "system";

    public LayerSpec {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(role, "role");
        Objects.requireNonNull(trust, "trust");
        Objects.requireNonNull(verify, "verify");
        Objects.requireNonNull(clientAuth, "clientAuth");
        protocols = List.copyOf(protocols);
        ciphers = List.copyOf(ciphers);
        alpn = List.copyOf(alpn);
        Objects.requireNonNull(handshakeTimeout, "handshakeTimeout");
    }

    /** The same layer with {@code allow} (compiled) in place of its own. */
    public LayerSpec withAllow(@Nullable PeerPolicy allow) {
        return new LayerSpec(
                name,
                role,
                credential,
                trust,
                serverName,
                verify,
                clientAuth,
                protocols,
                ciphers,
                alpn,
                handshakeTimeout,
                connect,
                allow,
                padding);
    }

    /** The same layer shaped ({@code true}) or plain. */
    public LayerSpec withPadding(boolean padding) {
        return new LayerSpec(
                name,
                role,
                credential,
                trust,
                serverName,
                verify,
                clientAuth,
                protocols,
                ciphers,
                alpn,
                handshakeTimeout,
                connect,
                allow,
                padding);
    }

    /**
     * Whether the peer presents a certificate this layer could check: always for clients, for servers only when they
     * ask for one. Only then does {@code verify: none} weaken anything.
     */
    public boolean verifiesPeerWhenAsked() {
        return role == Role.CLIENT || clientAuth != ClientAuthMode.NONE;
    }
}
