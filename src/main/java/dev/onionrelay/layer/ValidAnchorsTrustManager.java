package dev.onionrelay.layer;

import java.net.Socket;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.CertPathValidatorException;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.util.Date;
import java.util.List;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509ExtendedTrustManager;

/**
 * PKIX trust in a layer's pinned trust anchors that also requires the anchor the peer's chain ends at to be within its
 * validity period.
 *
 * <p>The JDK's PKIX validation takes a trust anchor as trusted whatever its dates, so an expired self-signed
 * certificate pinned as {@code trust} would be accepted when the peer presents that very certificate, while OpenSSL
 * and Python's {@code ssl} reject the same file ("certificate has expired"). Here the JDK validation runs first
 * (chain, signatures, host name, key usage), then the anchor is checked: one the peer sent itself, or the one that
 * issued the last certificate it sent. A failure carries {@link CertPathValidatorException.BasicReason#EXPIRED} (or
 * NOT_YET_VALID), so the peer gets the {@code certificate_expired} alert and handshake statistics count that reason.
 */
final class ValidAnchorsTrustManager extends X509ExtendedTrustManager {

    private final X509ExtendedTrustManager pkix;
    private final List<X509Certificate> anchors;

    private ValidAnchorsTrustManager(X509ExtendedTrustManager pkix, List<X509Certificate> anchors) {
        this.pkix = pkix;
        this.anchors = List.copyOf(anchors);
    }

    /** The trust manager for a layer that trusts exactly {@code anchors}. */
    static ValidAnchorsTrustManager of(List<X509Certificate> anchors) throws GeneralSecurityException {
        KeyStore store = KeyStore.getInstance(KeyStore.getDefaultType());
        try {
            store.load(null, null);
        } catch (java.io.IOException e) {
            throw new GeneralSecurityException("cannot create an empty key store", e);
        }
        for (int i = 0; i < anchors.size(); i++) {
            store.setCertificateEntry("anchor-" + i, anchors.get(i));
        }
        TrustManagerFactory factory = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        factory.init(store);
        for (TrustManager manager : factory.getTrustManagers()) {
            if (manager instanceof X509ExtendedTrustManager pkix) {
                return new ValidAnchorsTrustManager(pkix, anchors);
            }
        }
        throw new GeneralSecurityException("the default trust manager factory has no X509ExtendedTrustManager");
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
            throws CertificateException {
        pkix.checkServerTrusted(chain, authType, engine);
        checkAnchorValidity(chain);
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
            throws CertificateException {
        pkix.checkClientTrusted(chain, authType, engine);
        checkAnchorValidity(chain);
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType, Socket socket)
            throws CertificateException {
        pkix.checkServerTrusted(chain, authType, socket);
        checkAnchorValidity(chain);
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType, Socket socket)
            throws CertificateException {
        pkix.checkClientTrusted(chain, authType, socket);
        checkAnchorValidity(chain);
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType) throws CertificateException {
        pkix.checkServerTrusted(chain, authType);
        checkAnchorValidity(chain);
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType) throws CertificateException {
        pkix.checkClientTrusted(chain, authType);
        checkAnchorValidity(chain);
    }

    @Override
    public X509Certificate[] getAcceptedIssuers() {
        return pkix.getAcceptedIssuers();
    }

    /** Checks the validity of every pinned anchor the chain contains or ends at; the JDK already checked the rest. */
    private void checkAnchorValidity(X509Certificate[] chain) throws CertificateException {
        Date now = new Date();
        for (X509Certificate anchor : anchors) {
            if (endsAt(chain, anchor)) {
                try {
                    anchor.checkValidity(now);
                } catch (CertificateException e) {
                    boolean expired = anchor.getNotAfter().before(now);
                    String message = "trust anchor "
                            + anchor.getSubjectX500Principal().getName()
                            + (expired
                                    ? " expired on " + anchor.getNotAfter().toInstant()
                                    : " is not valid before "
                                            + anchor.getNotBefore().toInstant());
                    throw new CertificateException(
                            message,
                            new CertPathValidatorException(
                                    message,
                                    e,
                                    null,
                                    -1,
                                    expired
                                            ? CertPathValidatorException.BasicReason.EXPIRED
                                            : CertPathValidatorException.BasicReason.NOT_YET_VALID));
                }
            }
        }
    }

    private static boolean endsAt(X509Certificate[] chain, X509Certificate anchor) {
        for (X509Certificate certificate : chain) {
            if (certificate.equals(anchor)) {
                return true;
            }
        }
        if (chain.length == 0) {
            return false;
        }
        X509Certificate last = chain[chain.length - 1];
        if (!last.getIssuerX500Principal().equals(anchor.getSubjectX500Principal())) {
            return false;
        }
        try {
            last.verify(anchor.getPublicKey());
            return true;
        } catch (GeneralSecurityException e) {
            return false; // another CA of the same name: not the anchor this chain ends at
        }
    }
}
