package dev.onionrelay.layer;

import io.netty.handler.ssl.OpenSslCertificateException;
import io.netty.internal.tcnative.CertificateVerifier;
import java.net.Socket;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.X509ExtendedTrustManager;

/**
 * The trust manager of a layer on OpenSSL, so that a rejected peer gets the alert that names the problem. Netty's
 * OpenSSL engine tells BoringSSL why a chain failed with an X.509 error code, and BoringSSL picks the alert from it;
 * for any trust manager exception Netty does not recognise (a chain to an unknown CA among them) the code is {@code
 * X509_V_ERR_UNSPECIFIED}, and the peer is told {@code internal_error}. Here the exception carries the code of the
 * reason {@link HandshakeFailures} finds in it, and with it its original message and cause: unknown CA, expired,
 * revoked, unfit for its place, or else {@code certificate_unknown}, the alert the JDK engine sends for every trust
 * failure.
 */
final class OpenSslTrustAlerts extends X509ExtendedTrustManager {

    private final X509ExtendedTrustManager trust;

    OpenSslTrustAlerts(X509ExtendedTrustManager trust) {
        this.trust = trust;
    }

    /** The X.509 error code from which BoringSSL sends the alert named {@code reason}. */
    static int errorCodeFor(String reason) {
        if (reason == null) {
            return CertificateVerifier.X509_V_ERR_SUBJECT_ISSUER_MISMATCH;
        }
        return switch (reason) {
            case "unknown_ca" -> CertificateVerifier.X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY;
            case "certificate_expired" -> CertificateVerifier.X509_V_ERR_CERT_HAS_EXPIRED;
            case "certificate_revoked" -> CertificateVerifier.X509_V_ERR_CERT_REVOKED;
            case "bad_certificate" -> CertificateVerifier.X509_V_ERR_CERT_REJECTED;
            // BoringSSL has no code for access_denied (SSL_alert_from_verify_result): "certificate rejected" is the
            // nearest it sends, bad_certificate. Where OpenSslFatalAlerts is available, access_denied went out
            // before this, and BoringSSL sends no second alert.
            case "access_denied" -> CertificateVerifier.X509_V_ERR_CERT_REJECTED;
            case "unsupported_certificate" -> CertificateVerifier.X509_V_ERR_INVALID_PURPOSE;
            // Any code BoringSSL does not list gives certificate_unknown.
            default -> CertificateVerifier.X509_V_ERR_SUBJECT_ISSUER_MISMATCH;
        };
    }

    private static CertificateException named(CertificateException failure) {
        if (failure instanceof OpenSslCertificateException) {
            return failure;
        }
        String reason = HandshakeFailures.detected(failure);
        // Named by its reason first: Netty re-wraps a host name failure whose message starts as the JDK's does (to
        // list the names the certificate has), and the re-wrapped exception would lose the code.
        return new OpenSslCertificateException(
                (reason != null ? reason : "certificate_unknown") + ": " + failure.getMessage(),
                failure,
                errorCodeFor(reason));
    }

    /** One check of the trust manager wrapped here. */
    @FunctionalInterface
    private interface Check {
        void run() throws CertificateException;
    }

    private static void checked(Check check) throws CertificateException {
        try {
            check.run();
        } catch (CertificateException failure) {
            throw named(failure);
        }
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
            throws CertificateException {
        checked(() -> trust.checkServerTrusted(chain, authType, engine));
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
            throws CertificateException {
        checked(() -> trust.checkClientTrusted(chain, authType, engine));
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType, Socket socket)
            throws CertificateException {
        checked(() -> trust.checkServerTrusted(chain, authType, socket));
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType, Socket socket)
            throws CertificateException {
        checked(() -> trust.checkClientTrusted(chain, authType, socket));
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType) throws CertificateException {
        checked(() -> trust.checkServerTrusted(chain, authType));
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType) throws CertificateException {
        checked(() -> trust.checkClientTrusted(chain, authType));
    }

    @Override
    public X509Certificate[] getAcceptedIssuers() {
        return trust.getAcceptedIssuers();
    }
}
