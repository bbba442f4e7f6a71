package dev.onionrelay.support;

import dev.onionrelay.layer.ClientAuthMode;
import dev.onionrelay.layer.LayerSpec;
import dev.onionrelay.layer.Role;
import dev.onionrelay.layer.Verification;
import java.time.Duration;
import java.util.List;

/** Short ways to write layer specs in tests. */
public final class Layers {

    public static final Duration TIMEOUT = Duration.ofSeconds(10);

    private Layers() {}

    /** A server layer presenting {@code credential}, no client certificate asked. */
    public static LayerSpec server(String name, String credential) {
        return new LayerSpec(
                name,
                Role.SERVER,
                credential,
                LayerSpec.SYSTEM_TRUST,
                null,
                Verification.NONE,
                ClientAuthMode.NONE,
                List.of("TLSv1.3", "TLSv1.2"),
                List.of(),
                List.of(),
                TIMEOUT,
                null,
                null,
                false);
    }

    /** A server layer that requires a client certificate signed by {@code trust}. */
    public static LayerSpec serverRequiringClientCertificate(String name, String credential, String trust) {
        return new LayerSpec(
                name,
                Role.SERVER,
                credential,
                trust,
                null,
                Verification.CHAIN,
                ClientAuthMode.REQUIRE,
                List.of("TLSv1.3", "TLSv1.2"),
                List.of(),
                List.of(),
                TIMEOUT,
                null,
                null,
                false);
    }

    /** A client layer verifying the server fully against {@code trust} for {@code serverName}. */
    public static LayerSpec client(String name, String trust, String serverName) {
        return new LayerSpec(
                name,
                Role.CLIENT,
                null,
                trust,
                serverName,
                Verification.FULL,
                ClientAuthMode.NONE,
                List.of("TLSv1.3", "TLSv1.2"),
                List.of(),
                List.of(),
                TIMEOUT,
                null,
                null,
                false);
    }

    public static LayerSpec clientWithCertificate(String name, String trust, String serverName, String credential) {
        return new LayerSpec(
                name,
                Role.CLIENT,
                credential,
                trust,
                serverName,
                Verification.FULL,
                ClientAuthMode.NONE,
                List.of("TLSv1.3", "TLSv1.2"),
                List.of(),
                List.of(),
                TIMEOUT,
                null,
                null,
                false);
    }

    /** {@code spec} accepting only the peers {@code allow} names. */
    public static LayerSpec withAllow(LayerSpec spec, dev.onionrelay.layer.allow.PeerAllow allow) {
        return spec.withAllow(dev.onionrelay.layer.allow.PeerPolicy.compile(allow));
    }

    public static LayerSpec withProtocols(LayerSpec spec, List<String> protocols) {
        return withProtocolsAndCiphers(spec, protocols, spec.ciphers());
    }

    public static LayerSpec withProtocolsAndCiphers(LayerSpec spec, List<String> protocols, List<String> ciphers) {
        return new LayerSpec(
                spec.name(),
                spec.role(),
                spec.credential(),
                spec.trust(),
                spec.serverName(),
                spec.verify(),
                spec.clientAuth(),
                protocols,
                ciphers,
                spec.alpn(),
                spec.handshakeTimeout(),
                spec.connect(),
                spec.allow(),
                spec.padding());
    }

    public static LayerSpec withTimeout(LayerSpec spec, Duration timeout) {
        return new LayerSpec(
                spec.name(),
                spec.role(),
                spec.credential(),
                spec.trust(),
                spec.serverName(),
                spec.verify(),
                spec.clientAuth(),
                spec.protocols(),
                spec.ciphers(),
                spec.alpn(),
                timeout,
                spec.connect(),
                spec.allow(),
                spec.padding());
    }
}
