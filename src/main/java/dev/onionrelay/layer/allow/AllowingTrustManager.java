package dev.onionrelay.layer.allow;

import dev.onionrelay.layer.ClientAuthMode;
import dev.onionrelay.layer.LayerSpec;
import dev.onionrelay.layer.Role;
import dev.onionrelay.layer.TlsProvider;
import java.net.Socket;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.time.Instant;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLPeerUnverifiedException;
import javax.net.ssl.X509ExtendedTrustManager;
import org.jspecify.annotations.Nullable;

/**
 * A layer's trust followed by its {@code allow}: the peer's chain is verified first (the trust manager wrapped here),
 * then its leaf certificate is checked against the layer's {@link PeerPolicy}. A refused peer gets the
 * {@code access_denied} alert (see {@link JdkFatalAlerts}) and one log line naming where and whom; the handshake
 * fails with a {@link PeerRefusedException}, counted as {@code access_denied}.
 *
 * <p>Runs inside the handshake step that received the certificate, on the event loop: the policy's work is bounded
 * (list matches, and a CEL expression whose cost was bounded at create).
 */
public final class AllowingTrustManager extends X509ExtendedTrustManager {

    private static final System.Logger LOG = System.getLogger(AllowingTrustManager.class.getName());
    private static final System.Logger AUDIT = System.getLogger("dev.onionrelay.audit");

    private final X509ExtendedTrustManager trust;
    private final PeerPolicy policy;
    private final String where;

    /**
     * @param where the layer in words for the log line: {@code relay=entry side=ingress layer=inner}
     */
    public AllowingTrustManager(X509ExtendedTrustManager trust, PeerPolicy policy, String where) {
        this.trust = trust;
        this.policy = policy;
        this.where = where;
    }

    /**
     * How a server layer's engine asks for the client certificate. With {@code allow}, a client without one is refused
     * whatever {@code clientAuth} says; the trust manager is not called for it, so where the engine can send {@code
     * access_denied} ({@link #sendsAccessDenied}) the certificate is only requested and {@link
     * #refuseWithoutCertificate} refuses after the handshake, with {@code access_denied} like any other refused peer.
     * Elsewhere the engine requires it (and refuses with its own alert).
     */
    public static ClientAuthMode engineClientAuth(LayerSpec spec, TlsProvider provider) {
        if (spec.allow() == null || spec.role() != Role.SERVER) {
            return spec.clientAuth();
        }
        return sendsAccessDenied(provider) ? ClientAuthMode.OPTIONAL : ClientAuthMode.REQUIRE;
    }

    /**
     * Whether a peer refused on {@code provider}'s engine gets {@code access_denied} here: on the JDK with {@link
     * JdkFatalAlerts}, on OpenSSL with {@link OpenSslFatalAlerts}.
     */
    public static boolean sendsAccessDenied(TlsProvider provider) {
        return switch (provider) {
            case JDK -> JdkFatalAlerts.available();
            case OPENSSL -> OpenSslFatalAlerts.available();
        };
    }

    /**
     * On a server layer whose handshake just completed: the refusal of a client that sent no certificate (the
     * {@code access_denied} alert queued on the engine for the close to send), or null when it sent one.
     */
    public @Nullable PeerRefusedException refuseWithoutCertificate(SSLEngine engine) {
        try {
            if (engine.getSession().getPeerCertificates().length > 0) {
                return null;
            }
        } catch (SSLPeerUnverifiedException none) {
            // No certificate: refused below.
        }
        return refused(engine, "presented no certificate", "subject=-");
    }

    private void authorize(X509Certificate[] chain, SSLEngine engine) throws CertificateException {
        if (chain == null || chain.length == 0) {
            throw refused(engine, "presented no certificate", "-");
        }
        PeerIdentity peer = PeerIdentity.of(chain[0]);
        String why = policy.refusal(peer, Instant.now());
        if (why != null) {
            throw refused(engine, why, peer.describe());
        }
    }

    private PeerRefusedException refused(SSLEngine engine, String why, String peer) {
        String line = "peer refused: " + where + " " + peer + " reason=access_denied why=" + why;
        LOG.log(System.Logger.Level.WARNING, line);
        AUDIT.log(System.Logger.Level.INFO, line);
        if (!JdkFatalAlerts.send(engine, "peer not allowed")) {
            OpenSslFatalAlerts.send(engine);
        }
        return new PeerRefusedException("peer not allowed by this layer's allow (" + why + "): " + peer);
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
            throws CertificateException {
        trust.checkClientTrusted(chain, authType, engine);
        authorize(chain, engine);
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
            throws CertificateException {
        trust.checkServerTrusted(chain, authType, engine);
        authorize(chain, engine);
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType, Socket socket)
            throws CertificateException {
        trust.checkClientTrusted(chain, authType, socket);
        authorize(chain, null);
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType, Socket socket)
            throws CertificateException {
        trust.checkServerTrusted(chain, authType, socket);
        authorize(chain, null);
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType) throws CertificateException {
        trust.checkClientTrusted(chain, authType);
        authorize(chain, null);
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType) throws CertificateException {
        trust.checkServerTrusted(chain, authType);
        authorize(chain, null);
    }

    @Override
    public X509Certificate[] getAcceptedIssuers() {
        return trust.getAcceptedIssuers();
    }
}
