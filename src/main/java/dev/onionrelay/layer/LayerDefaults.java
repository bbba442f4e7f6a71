package dev.onionrelay.layer;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * Turns a partly filled layer request into a complete {@link LayerSpec}: the role follows the side, the name is the
 * index, trust is the system store, client layers verify fully, TLS 1.3 and 1.2 only. Settings that can never work
 * ({@link TlsSettings}) are refused here, so that every way of configuring a layer (API, push, declared relays, the
 * demo) refuses the same things for the same reasons.
 */
public final class LayerDefaults {

    /** Protocol versions a layer enables when the request names none. */
    public static final List<String> PROTOCOLS = TlsSettings.PROTOCOLS;

    private LayerDefaults() {}

    /**
     * Applies the defaults.
     *
     * @param side the side the layer lives on
     * @param index its position in the static stack (0 = outermost), used as its default name
     * @param defaultServerName the name egress layer 0 verifies when none is given (the target host), else null
     * @param relayHandshakeTimeout the relay's handshake timeout
     * @throws InvalidSpecException naming every setting that can never work, relative to the layer
     */
    public static LayerSpec apply(
            Side side,
            int index,
            @Nullable String name,
            @Nullable Role role,
            @Nullable String credential,
            @Nullable String trust,
            @Nullable String serverName,
            @Nullable Verification verify,
            @Nullable ClientAuthMode clientAuth,
            @Nullable List<String> protocols,
            @Nullable List<String> ciphers,
            @Nullable List<String> alpn,
            @Nullable Duration handshakeTimeout,
            @Nullable String defaultServerName,
            Duration relayHandshakeTimeout) {
        Role effectiveRole = role != null ? role : (side == Side.INGRESS ? Role.SERVER : Role.CLIENT);
        ClientAuthMode effectiveClientAuth = clientAuth != null ? clientAuth : ClientAuthMode.NONE;
        Verification effectiveVerify = verify;
        if (effectiveVerify == null) {
            // A server does not check a host name for its clients: chain is the strongest meaningful check.
            effectiveVerify = effectiveRole == Role.CLIENT
                    ? Verification.FULL
                    : (effectiveClientAuth == ClientAuthMode.NONE ? Verification.NONE : Verification.CHAIN);
        }
        String effectiveServerName = serverName;
        if (effectiveServerName == null && effectiveRole == Role.CLIENT && index == 0) {
            effectiveServerName = defaultServerName;
        }
        List<SpecProblem> problems = new ArrayList<>();
        TlsSettings.name(problems, name);
        TlsSettings.protocols(problems, protocols);
        List<String> effectiveProtocols = protocols != null && problems.isEmpty() ? List.copyOf(protocols) : PROTOCOLS;
        TlsSettings.ciphers(problems, ciphers, effectiveProtocols);
        if (alpn != null) {
            TlsSettings.alpn(problems, alpn);
        }
        TlsSettings.host(problems, "serverName", serverName);
        if (handshakeTimeout != null) {
            TlsSettings.timeout(problems, "handshakeTimeout", handshakeTimeout, TlsSettings.MAX_HANDSHAKE_TIMEOUT);
        }
        if (!problems.isEmpty()) {
            throw new InvalidSpecException(problems);
        }
        return new LayerSpec(
                name != null && !name.isBlank() ? name : Integer.toString(index),
                effectiveRole,
                credential,
                trust != null ? trust : LayerSpec.SYSTEM_TRUST,
                effectiveServerName,
                effectiveVerify,
                effectiveClientAuth,
                effectiveProtocols,
                ciphers != null ? ciphers : List.of(),
                alpn != null ? alpn : List.of(),
                handshakeTimeout != null ? handshakeTimeout : relayHandshakeTimeout);
    }
}
