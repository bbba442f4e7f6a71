package dev.onionrelay.layer;

import io.netty.handler.ssl.NotSslRecordException;
import io.netty.handler.ssl.SslHandshakeTimeoutException;
import java.nio.channels.ClosedChannelException;
import java.security.cert.CertPathBuilderException;
import java.security.cert.CertPathValidatorException;
import java.security.cert.CertificateExpiredException;
import java.security.cert.CertificateNotYetValidException;
import java.util.Locale;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Classifies why a handshake failed into the reason values of API.md: the TLS alert's RFC 8446 name when there is one
 * (sent or received), else {@code timeout}, {@code not_tls}, {@code peer_closed} or {@code other}. Both engines are
 * covered: the JDK says "Received fatal alert: unknown_ca", BoringSSL says "TLSV1_ALERT_UNKNOWN_CA", and for alerts
 * we send the cause chain names the certificate problem.
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
                return validator.getReason() == CertPathValidatorException.BasicReason.EXPIRED
                        ? "certificate_expired"
                        : "unknown_ca";
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
