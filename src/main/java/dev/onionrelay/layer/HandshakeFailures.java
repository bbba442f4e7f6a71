package dev.onionrelay.layer;

import io.netty.handler.ssl.NotSslRecordException;
import io.netty.handler.ssl.SslHandshakeTimeoutException;
import java.nio.channels.ClosedChannelException;
import java.security.cert.CertPathBuilderException;
import java.security.cert.CertPathValidatorException;
import java.security.cert.CertPathValidatorException.BasicReason;
import java.security.cert.CertificateExpiredException;
import java.security.cert.CertificateNotYetValidException;
import java.security.cert.PKIXReason;
import java.util.Locale;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Classifies why a handshake failed into the reason values of API.md: an RFC 8446 alert name when there is one, else
 * {@code timeout}, {@code not_tls}, {@code peer_closed} or {@code other}.
 *
 * <p>The side that <em>receives</em> an alert reports the alert as received: the JDK says "Received fatal alert:
 * certificate_unknown", BoringSSL "TLSV1_ALERT_INTERNAL_ERROR". The side that <em>detects</em> the problem names it by
 * the alert RFC 8446 defines for it, whatever its engine puts on the wire, so that one problem gets one reason on
 * either provider: for a certificate that does not chain to a trusted CA the JDK engine sends certificate_unknown and
 * Netty's OpenSSL engine internal_error (its verifier turns any trust manager exception it does not map into
 * X509_V_ERR_UNSPECIFIED), yet both are reported here as {@code unknown_ca}.
 */
public final class HandshakeFailures {

    public static final String TIMEOUT = "timeout";
    public static final String NOT_TLS = "not_tls";
    public static final String PEER_CLOSED = "peer_closed";
    public static final String OTHER = "other";

    /** Alert names (RFC 8446 section 6 and RFC 5246) a handshake can end with. */
    static final Set<String> ALERTS = Set.of(
            "close_notify",
            "unexpected_message",
            "bad_record_mac",
            "record_overflow",
            "handshake_failure",
            "bad_certificate",
            "unsupported_certificate",
            "certificate_revoked",
            "certificate_expired",
            "certificate_unknown",
            "illegal_parameter",
            "unknown_ca",
            "access_denied",
            "decode_error",
            "decrypt_error",
            "protocol_version",
            "insufficient_security",
            "internal_error",
            "inappropriate_fallback",
            "user_canceled",
            "missing_extension",
            "unsupported_extension",
            "unrecognized_name",
            "bad_certificate_status_response",
            "unknown_psk_identity",
            "certificate_required",
            "no_application_protocol",
            "no_renegotiation");

    private static final Pattern JDK_ALERT = Pattern.compile("(?:Received|received) fatal alert: ([a-z_]+)");
    private static final Pattern BORINGSSL_ALERT = Pattern.compile("(?:TLSV1|SSLV3|TLSV13)_ALERT_([A-Z_]+)");

    private HandshakeFailures() {}

    /** The reason value for a failed handshake. */
    public static String reason(Throwable failure) {
        for (Throwable t = failure; t != null; t = t.getCause() == t ? null : t.getCause()) {
            if (t instanceof SslHandshakeTimeoutException) {
                return TIMEOUT;
            }
            if (t instanceof NotSslRecordException) {
                return NOT_TLS;
            }
            if (t instanceof CertificateExpiredException || t instanceof CertificateNotYetValidException) {
                return "certificate_expired";
            }
            if (t instanceof CertPathBuilderException) {
                return "unknown_ca";
            }
            if (t instanceof CertPathValidatorException validator) {
                return certificatePathReason(validator.getReason());
            }
            String message = t.getMessage();
            if (message != null) {
                String fromMessage = fromMessage(message);
                if (fromMessage != null) {
                    return fromMessage;
                }
            }
            if (t instanceof ClosedChannelException) {
                return PEER_CLOSED;
            }
        }
        return OTHER;
    }

    /**
     * The alert for a chain the PKIX validator rejected. The JDK trust manager validates a chain that ends at (or is
     * issued under the name of) a trust anchor and only builds one otherwise, so the same trust problem arrives either
     * as a {@link CertPathBuilderException} or as a validator exception with a reason.
     */
    private static String certificatePathReason(CertPathValidatorException.Reason reason) {
        if (reason == BasicReason.EXPIRED || reason == BasicReason.NOT_YET_VALID) {
            // RFC 8446: "A certificate has expired or is not currently valid."
            return "certificate_expired";
        }
        if (reason == BasicReason.REVOKED) {
            return "certificate_revoked";
        }
        if (reason == BasicReason.ALGORITHM_CONSTRAINED) {
            return "unsupported_certificate";
        }
        if (reason == BasicReason.UNDETERMINED_REVOCATION_STATUS) {
            return "certificate_unknown";
        }
        if (reason == PKIXReason.INVALID_KEY_USAGE
                || reason == PKIXReason.UNRECOGNIZED_CRIT_EXT
                || reason == PKIXReason.INVALID_NAME
                || reason == PKIXReason.INVALID_POLICY
                || reason == PKIXReason.PATH_TOO_LONG
                || reason == PKIXReason.NOT_CA_CERT) {
            // The chain reaches a trusted CA but a certificate in it is unfit for its place.
            return "bad_certificate";
        }
        // NO_TRUST_ANCHOR, NAME_CHAINING, and INVALID_SIGNATURE: a chain under the name of a trusted CA that was signed
        // with another key (a regenerated or impostor CA) has no trust anchor either.
        return "unknown_ca";
    }

    private static String fromMessage(String message) {
        Matcher jdk = JDK_ALERT.matcher(message);
        if (jdk.find() && ALERTS.contains(jdk.group(1))) {
            return jdk.group(1);
        }
        Matcher boring = BORINGSSL_ALERT.matcher(message);
        if (boring.find()) {
            String name = boring.group(1).toLowerCase(Locale.ROOT);
            if (name.equals("certificate_required") || ALERTS.contains(name)) {
                return name;
            }
        }
        String lower = message.toLowerCase(Locale.ROOT);
        // Failures we detect ourselves, named by the alert we send for them.
        if (lower.contains("unable to find valid certification path")
                || lower.contains("certificate_verify_failed")
                || lower.contains("unknown_ca")) {
            return "unknown_ca";
        }
        if (lower.contains("no subject alternative")
                || lower.contains("no name matching")
                || lower.contains("hostname") && lower.contains("match")) {
            return "certificate_unknown";
        }
        if (lower.contains("empty client certificate chain")
                || lower.contains("peer_did_not_return_a_certificate")
                || lower.contains("certificate_required")) {
            return "certificate_required";
        }
        if (lower.contains("no appropriate protocol")
                || lower.contains("unsupported_protocol")
                || lower.contains("protocol_version")) {
            return "protocol_version";
        }
        if (lower.contains("no_shared_cipher") || lower.contains("no appropriate cipher")) {
            return "handshake_failure";
        }
        if (lower.contains("not an ssl/tls record")
                || lower.contains("wrong_version_number")
                || lower.contains("unsupported or unrecognized ssl message")) {
            return NOT_TLS;
        }
        if (lower.contains("connection closed while ssl/tls handshake")
                || lower.contains("closed engine")
                || lower.contains("connection reset")) {
            return PEER_CLOSED;
        }
        return null;
    }
}
