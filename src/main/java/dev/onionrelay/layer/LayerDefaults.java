package dev.onionrelay.layer;

import dev.onionrelay.layer.allow.PeerAllow;
import dev.onionrelay.layer.allow.PeerPolicy;
import dev.onionrelay.layer.shaping.ShapedFrames;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * Turns a partly filled layer request into a complete {@link LayerSpec}: callers name on a {@link Builder} (from
 * {@link #layer}) only the settings they have, and every default lives here: the role follows the side, the name is the
 * index, trust is the system store, client layers verify fully, TLS 1.3 and 1.2 only. Settings that can never work
 * ({@link TlsSettings}) are refused here, so that every way of configuring a layer (API, push, declared relays, the
 * demo) refuses the same things for the same reasons.
 */
public final class LayerDefaults {

    private LayerDefaults() {}

    /**
     * Starts a layer request; settings not named on the builder take their defaults in {@link Builder#build()}.
     *
     * @param side the side the layer lives on
     * @param index its position in the static stack (0 = outermost), used as its default name
     * @param relayHandshakeTimeout the relay's handshake timeout, the layer's when it names none
     */
    public static Builder layer(Side side, int index, Duration relayHandshakeTimeout) {
        return new Builder(side, index, relayHandshakeTimeout);
    }

    /** The settings a request names for one layer; each one left unset (or set to null) takes its default. */
    public static final class Builder {

        private final Side side;
        private final int index;
        private final Duration relayHandshakeTimeout;
        private @Nullable String name;
        private @Nullable Role role;
        private @Nullable String credential;
        private @Nullable String trust;
        private @Nullable String serverName;
        private @Nullable Verification verify;
        private @Nullable ClientAuthMode clientAuth;
        private @Nullable List<String> protocols;
        private @Nullable List<String> ciphers;
        private @Nullable List<String> alpn;
        private @Nullable Duration handshakeTimeout;
        private @Nullable String defaultServerName;
        private @Nullable String connect;
        private boolean connectBehind;
        private @Nullable PeerAllow allow;
        private @Nullable String padding;

        private Builder(Side side, int index, Duration relayHandshakeTimeout) {
            this.side = side;
            this.index = index;
            this.relayHandshakeTimeout = relayHandshakeTimeout;
        }

        public Builder name(@Nullable String name) {
            this.name = name;
            return this;
        }

        public Builder role(@Nullable Role role) {
            this.role = role;
            return this;
        }

        public Builder credential(@Nullable String credential) {
            this.credential = credential;
            return this;
        }

        public Builder trust(@Nullable String trust) {
            this.trust = trust;
            return this;
        }

        public Builder serverName(@Nullable String serverName) {
            this.serverName = serverName;
            return this;
        }

        public Builder verify(@Nullable Verification verify) {
            this.verify = verify;
            return this;
        }

        public Builder clientAuth(@Nullable ClientAuthMode clientAuth) {
            this.clientAuth = clientAuth;
            return this;
        }

        public Builder protocols(@Nullable List<String> protocols) {
            this.protocols = protocols;
            return this;
        }

        public Builder ciphers(@Nullable List<String> ciphers) {
            this.ciphers = ciphers;
            return this;
        }

        public Builder alpn(@Nullable List<String> alpn) {
            this.alpn = alpn;
            return this;
        }

        public Builder handshakeTimeout(@Nullable Duration handshakeTimeout) {
            this.handshakeTimeout = handshakeTimeout;
            return this;
        }

        /** {@code host:port} to ask for with HTTP CONNECT through this layer once it is up (egress only). */
        public Builder connect(@Nullable String connect) {
            this.connect = connect;
            return this;
        }

        /** Which peer identities the layer accepts (compiled and checked in {@link #build()}); null for any. */
        public Builder allow(@Nullable PeerAllow allow) {
            this.allow = allow;
            return this;
        }

        /** {@code "on"} or {@code "off"} (the default): whether the layer is shaped (docs/SHAPING.md). */
        public Builder padding(@Nullable String padding) {
            this.padding = padding;
            return this;
        }

        /** The name an outermost client layer verifies when it names none (the target host on egress). */
        public Builder defaultServerName(@Nullable String defaultServerName) {
            this.defaultServerName = defaultServerName;
            return this;
        }

        /**
         * The name a client layer right behind a proxy hop verifies when it names none: the host asked for through
         * that hop.
         */
        public Builder serverNameBehindHop(@Nullable String host) {
            if (host != null) {
                this.defaultServerName = host;
                this.connectBehind = true;
            }
            return this;
        }

        /**
         * Applies the defaults.
         *
         * @throws InvalidSpecException naming every setting that can never work, relative to the layer
         */
        public LayerSpec build() {
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
            if (effectiveServerName == null && effectiveRole == Role.CLIENT && (index == 0 || connectBehind)) {
                effectiveServerName = defaultServerName;
            }
            List<SpecProblem> problems = new ArrayList<>();
            TlsSettings.name(problems, name);
            TlsSettings.protocols(problems, protocols);
            List<String> effectiveProtocols =
                    protocols != null && problems.isEmpty() ? List.copyOf(protocols) : TlsSettings.PROTOCOLS;
            TlsSettings.ciphers(problems, ciphers, effectiveProtocols);
            if (alpn != null) {
                TlsSettings.alpn(problems, alpn);
            }
            TlsSettings.host(problems, "serverName", serverName);
            if (handshakeTimeout != null) {
                TlsSettings.timeout(problems, "handshakeTimeout", handshakeTimeout, TlsSettings.MAX_HANDSHAKE_TIMEOUT);
            }
            PeerPolicy policy = allowPolicy(problems, effectiveRole, effectiveClientAuth, effectiveVerify);
            boolean shaped = padding(problems);
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
                    handshakeTimeout != null ? handshakeTimeout : relayHandshakeTimeout,
                    connect,
                    policy,
                    shaped);
        }

        /** Whether the layer is shaped; a value other than on or off, or an ALPN list beside on, is a problem. */
        private boolean padding(List<SpecProblem> problems) {
            if (padding != null && !padding.equals("on") && !padding.equals("off")) {
                problems.add(new SpecProblem("padding", "padding is \"on\" or \"off\""));
                return false;
            }
            boolean shaped = "on".equals(padding);
            if (shaped && alpn != null && !alpn.isEmpty()) {
                problems.add(new SpecProblem(
                        "alpn", "a layer with padding on negotiates " + ShapedFrames.ALPN + " itself: leave alpn out"));
            }
            return shaped;
        }

        /**
         * The compiled {@code allow}, or null; its problems added. It judges a verified peer certificate, so it needs
         * one: a server layer must ask for it, and the chain must be verified.
         */
        private @Nullable PeerPolicy allowPolicy(
                List<SpecProblem> problems, Role role, ClientAuthMode clientAuth, Verification verify) {
            if (allow == null) {
                return null;
            }
            if (role == Role.SERVER && clientAuth == ClientAuthMode.NONE) {
                problems.add(new SpecProblem(
                        "allow",
                        "a server layer checks allow on client certificates: set clientAuth to require or optional"));
            } else if (verify == Verification.NONE) {
                problems.add(new SpecProblem("allow", "allow judges a verified peer: verify must be full or chain"));
            }
            try {
                return PeerPolicy.compile(allow);
            } catch (InvalidSpecException e) {
                problems.addAll(e.problems());
                return null;
            }
        }
    }
}
