package dev.onionrelay.layer;

import dev.onionrelay.layer.allow.AllowingTrustManager;
import dev.onionrelay.layer.shaping.ShapedAlpn;
import dev.onionrelay.layer.shaping.ShapedFrames;
import io.netty.buffer.ByteBufAllocator;
import io.netty.handler.ssl.ApplicationProtocolConfig;
import io.netty.handler.ssl.ClientAuth;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.ssl.SupportedCipherSuiteFilter;
import io.netty.handler.ssl.util.InsecureTrustManagerFactory;
import io.netty.util.NetUtil;
import java.security.GeneralSecurityException;
import java.security.cert.X509Certificate;
import java.util.ArrayDeque;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.WeakHashMap;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509ExtendedTrustManager;

/** Builds the Netty {@link SslContext} of one layer from its spec and the credentials it names. */
public final class TlsContexts {

    /**
     * Cipher suites used when a layer names none: TLS 1.3 suites and ECDHE with AEAD for TLS 1.2. No CBC, no RSA key
     * exchange, no renegotiation-era suites.
     */
    public static final List<String> AEAD_CIPHERS = List.of(
            "TLS_AES_128_GCM_SHA256",
            "TLS_AES_256_GCM_SHA384",
            "TLS_CHACHA20_POLY1305_SHA256",
            "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
            "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
            "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
            "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
            "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
            "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256");

    private final KeyMaterial keyMaterial;
    private final ProviderChoice provider;

    public TlsContexts(KeyMaterial keyMaterial, ProviderChoice provider) {
        this.keyMaterial = keyMaterial;
        this.provider = provider;
    }

    /** Every layer on {@code provider}. */
    public TlsContexts(KeyMaterial keyMaterial, TlsProvider provider) {
        this(keyMaterial, ProviderChoice.of(provider));
    }

    public ProviderChoice provider() {
        return provider;
    }

    /** Where the layers' keys and trust come from. */
    public KeyMaterial keyMaterial() {
        return keyMaterial;
    }

    /**
     * Asks the server for {@code host} by SNI when it is a host name, whatever its dots. Both engines only derive SNI
     * from a dotted name by themselves, so {@code localhost} or a short service name such as {@code hop1} would go
     * without one. An IP literal is never sent: SNI carries host names only. The host name check is not touched.
     */
    public static void requestServerName(SSLEngine engine, String host) {
        serverNameIndication(host).ifPresent(name -> {
            SSLParameters parameters = engine.getSSLParameters();
            parameters.setServerNames(List.of(name));
            engine.setSSLParameters(parameters);
        });
    }

    /** The SNI name for {@code host}: none for an IP literal or a name that is no valid host name. */
    static Optional<SNIHostName> serverNameIndication(String host) {
        if (host == null || host.isEmpty() || isIpLiteral(host)) {
            return Optional.empty();
        }
        // An absolute name's final dot is not part of the SNI name.
        String name = host.endsWith(".") ? host.substring(0, host.length() - 1) : host;
        try {
            return Optional.of(new SNIHostName(name));
        } catch (IllegalArgumentException notAHostName) {
            return Optional.empty();
        }
    }

    private static boolean isIpLiteral(String host) {
        String bare = host.startsWith("[") && host.endsWith("]") ? host.substring(1, host.length() - 1) : host;
        return NetUtil.isValidIpV4Address(bare) || NetUtil.isValidIpV6Address(bare);
    }

    /**
     * Session cache keys a client layer keeps per peer on the JDK engine, at most: one per handshake it runs at the same
     * time, up to this many.
     */
    static final int MAX_SESSION_SLOTS = 32;

    private static final Map<SslContext, SessionSlots> SESSION_SLOTS = Collections.synchronizedMap(new WeakHashMap<>());

    /**
     * A client layer's TLS handler for one connection to {@code serverName} at {@code peerPort}, asking for
     * {@code serverName} by SNI.
     *
     * <p>On the JDK engine, a tunnel resumes the layer's session even when other tunnels set up at the same time. A TLS
     * 1.3 ticket serves one handshake only, and the JDK client keeps one per cache key, which is the peer's host and
     * port; so of several handshakes in flight to the same peer, at most one would find a ticket and the others would
     * redo the whole certificate exchange. Each open connection therefore gets a cache key of its own (a session
     * slot: the port with the slot number above its 16 bits, used by nothing but the session cache), and a closed
     * connection's slot goes to the back of the idle queue, holding the ticket that connection received. One tunnel
     * after another always uses the same slot.
     */
    public static SslHandler newClientHandler(
            PreparedLayer prepared, ByteBufAllocator allocator, String serverName, int peerPort) {
        SslHandler handler;
        if (prepared.provider() == TlsProvider.JDK) {
            SessionSlots slots = SESSION_SLOTS.computeIfAbsent(prepared.context(), context -> new SessionSlots());
            String peer = serverName + ":" + peerPort;
            int slot = slots.take(peer);
            try {
                handler = prepared.context().newHandler(allocator, serverName, peerPort | slot << 16);
            } catch (RuntimeException cannotStart) {
                slots.release(peer, slot);
                throw cannotStart;
            }
            // The slot stays taken while its connection is open: the ticket that replaces the one this handshake used
            // arrives after the handshake, so a slot given back at the end of the handshake could go to the next
            // tunnel before its ticket is there. By the time the connection closes, it has arrived.
            handler.handshakeFuture().addListener(done -> {
                if (done.isSuccess()) {
                    ((io.netty.channel.Channel) done.getNow())
                            .closeFuture()
                            .addListener(closed -> slots.release(peer, slot));
                } else {
                    slots.release(peer, slot);
                }
            });
        } else {
            handler = halfClosing(prepared, prepared.context().newHandler(allocator, serverName, peerPort));
        }
        requestServerName(handler.engine(), serverName);
        shapedAlpnOnJdk(prepared, handler);
        return handler;
    }

    /** A server layer's TLS handler for one connection. */
    public static SslHandler newServerHandler(PreparedLayer prepared, ByteBufAllocator allocator) {
        return shapedAlpnOnJdk(
                prepared, halfClosing(prepared, prepared.context().newHandler(allocator)));
    }

    private static SslHandler shapedAlpnOnJdk(PreparedLayer prepared, SslHandler handler) {
        if (prepared.spec().padding() && prepared.provider() == TlsProvider.JDK) {
            ShapedAlpn.onJdkEngine(handler.engine());
        }
        return handler;
    }

    /**
     * On OpenSSL, the handler that keeps sending after the peer's close_notify (see {@link OpenSslHalfClose}) around
     * the engine the context made: the context's own handler is dropped unused (it holds nothing but the engine).
     */
    private static SslHandler halfClosing(PreparedLayer prepared, SslHandler handler) {
        if (prepared.provider() != TlsProvider.OPENSSL || !OpenSslHalfClose.available()) {
            return handler;
        }
        OpenSslHalfClose.keepSendingAfterCloseNotify(handler.engine());
        return new HalfCloseSslHandler(handler.engine());
    }

    /** TLS 1.3's cipher suites: BoringSSL offers and accepts all of them, whatever a layer names. */
    static final List<String> TLS13_CIPHERS =
            List.of("TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256");

    /**
     * Whether Netty's OpenSSL engine can run {@code spec} as configured. Not with an Ed25519 or Ed448 identity (it finds
     * no key material for them; docs/BENCHMARKS.md), and not for TLS 1.3 with only some of its suites: BoringSSL does not
     * let TLS 1.3 suites be chosen, so a layer that asks for AES-256 only (the {@code strict} profile) would still
     * accept AES-128. Nor for a layer with {@code allow} where the engine cannot send {@code access_denied} (when
     * {@link dev.onionrelay.layer.allow.OpenSslFatalAlerts} is not available or switched off).
     */
    static boolean openSslCarries(LayerSpec spec, KeyMaterial.Identity identity) {
        if (identity != null) {
            String algorithm = identity.privateKey().getAlgorithm();
            if (!algorithm.equals("EC") && !algorithm.equals("RSA")) {
                return false;
            }
        }
        if (spec.allow() != null && !AllowingTrustManager.sendsAccessDenied(TlsProvider.OPENSSL)) {
            // A refused peer must get access_denied, which BoringSSL sends only through OpenSslFatalAlerts.
            return false;
        }
        return spec.ciphers().isEmpty()
                || !spec.protocols().contains("TLSv1.3")
                || spec.ciphers().containsAll(TLS13_CIPHERS);
    }

    /** The JDK's default trust (its cacerts, or what {@code javax.net.ssl.trustStore} names). */
    private static X509ExtendedTrustManager systemTrust() throws GeneralSecurityException {
        TrustManagerFactory factory = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        factory.init((java.security.KeyStore) null);
        for (TrustManager manager : factory.getTrustManagers()) {
            if (manager instanceof X509ExtendedTrustManager extended) {
                return extended;
            }
        }
        throw new GeneralSecurityException("the default trust manager factory has no X509ExtendedTrustManager");
    }

    /** The session slots of one client layer context, per peer: idle ones in the order they were released. */
    static final class SessionSlots {

        private final Map<String, Peer> peers = new HashMap<>();

        private static final class Peer {
            final ArrayDeque<Integer> idle = new ArrayDeque<>();
            int created;
            int shared;
        }

        /** The idle slot released longest ago, else a new one, else (all busy, at the maximum) one shared in turn. */
        synchronized int take(String peer) {
            Peer slots = peers.computeIfAbsent(peer, key -> new Peer());
            Integer idle = slots.idle.pollFirst();
            if (idle != null) {
                return idle;
            }
            if (slots.created < MAX_SESSION_SLOTS) {
                return slots.created++;
            }
            return slots.shared++ % MAX_SESSION_SLOTS;
        }

        synchronized void release(String peer, int slot) {
            Peer slots = peers.get(peer);
            if (slots != null && !slots.idle.contains(slot)) {
                slots.idle.addLast(slot);
            }
        }
    }

    /**
     * Builds the context for a layer that may end the peer's direction (below its side's minimum depth): with {@link
     * ProviderChoice#AUTO}, on the JDK engine.
     */
    public PreparedLayer prepare(LayerSpec spec) throws LayerConfigurationException {
        return prepare(spec, 0, Integer.MAX_VALUE);
    }

    /**
     * Builds the context for the layer at {@code index} (0 = outermost) of a side whose minimum depth is {@code
     * minDepth}, on the engine {@link ProviderChoice#forLayer} chooses. Errors name the spec field at fault.
     */
    public PreparedLayer prepare(LayerSpec spec, int index, int minDepth) throws LayerConfigurationException {
        return prepare(spec, index, minDepth, "layer=" + spec.name());
    }

    /**
     * As {@link #prepare(LayerSpec, int, int)}, with {@code where} naming the layer (relay, side, layer) in the log
     * line of a peer its {@code allow} refuses.
     */
    public PreparedLayer prepare(LayerSpec spec, int index, int minDepth, String where)
            throws LayerConfigurationException {
        if (spec.role() == Role.SERVER && spec.credential() == null) {
            throw new LayerConfigurationException("credential", "a server layer needs an identity credential");
        }
        KeyMaterial.Identity identity = spec.credential() == null ? null : keyMaterial.identity(spec.credential());
        TlsProvider provider = this.provider.forLayer(index, minDepth, openSslCarries(spec, identity));
        ClientAuthMode clientAuth = AllowingTrustManager.engineClientAuth(spec, provider);
        SslContextBuilder builder;
        if (spec.role() == Role.SERVER) {
            builder = SslContextBuilder.forServer(
                            identity.privateKey(), identity.chain().toArray(X509Certificate[]::new))
                    .clientAuth(
                            switch (clientAuth) {
                                case NONE -> ClientAuth.NONE;
                                case OPTIONAL -> ClientAuth.OPTIONAL;
                                case REQUIRE -> ClientAuth.REQUIRE;
                            });
        } else {
            builder = SslContextBuilder.forClient();
            if (identity != null) {
                builder.keyManager(identity.privateKey(), identity.chain().toArray(X509Certificate[]::new));
            }
            // Netty 4.2 checks host names by default; FULL keeps that, CHAIN and NONE turn it off explicitly.
            builder.endpointIdentificationAlgorithm(spec.verify() == Verification.FULL ? "HTTPS" : null);
        }
        AllowingTrustManager allowing = null;
        if (spec.verify() == Verification.NONE) {
            builder.trustManager(InsecureTrustManagerFactory.INSTANCE);
        } else {
            X509ExtendedTrustManager trust;
            try {
                // Pinned anchors are checked for validity too, as OpenSSL does (the JDK alone would not).
                trust = LayerSpec.SYSTEM_TRUST.equals(spec.trust())
                        ? systemTrust()
                        : ValidAnchorsTrustManager.of(keyMaterial.trustAnchors(spec.trust()));
            } catch (GeneralSecurityException e) {
                throw new LayerConfigurationException(
                        "trust", "cannot use trust '" + spec.trust() + "': " + e.getMessage(), e);
            }
            if (spec.allow() != null) {
                allowing = new AllowingTrustManager(trust, spec.allow(), where);
                trust = allowing;
            }
            builder.trustManager(provider == TlsProvider.OPENSSL ? new OpenSslTrustAlerts(trust) : trust);
        }
        builder.sslProvider(provider.netty())
                .protocols(spec.protocols())
                .ciphers(spec.ciphers().isEmpty() ? AEAD_CIPHERS : spec.ciphers(), SupportedCipherSuiteFilter.INSTANCE);
        if (spec.padding() && provider == TlsProvider.OPENSSL) {
            // Only the shaped protocol; BoringSSL answers a peer that offers others with no_application_protocol. On
            // the JDK the engine itself is set up (ShapedAlpn); a peer that offers no ALPN passes both engines and
            // fails right after its handshake (HandshakeAccounting.succeeded), before the layer carries a byte.
            builder.applicationProtocolConfig(new ApplicationProtocolConfig(
                    ApplicationProtocolConfig.Protocol.ALPN,
                    ApplicationProtocolConfig.SelectorFailureBehavior.NO_ADVERTISE,
                    ApplicationProtocolConfig.SelectedListenerFailureBehavior.ACCEPT,
                    List.of(ShapedFrames.ALPN)));
        } else if (!spec.alpn().isEmpty() && !spec.padding()) {
            builder.applicationProtocolConfig(new ApplicationProtocolConfig(
                    ApplicationProtocolConfig.Protocol.ALPN,
                    ApplicationProtocolConfig.SelectorFailureBehavior.NO_ADVERTISE,
                    ApplicationProtocolConfig.SelectedListenerFailureBehavior.ACCEPT,
                    spec.alpn()));
        }
        try {
            return new PreparedLayer(spec, builder.build(), provider, allowing);
        } catch (SSLException | IllegalArgumentException e) {
            throw new LayerConfigurationException("protocols", "cannot build TLS context: " + e.getMessage(), e);
        }
    }
}
