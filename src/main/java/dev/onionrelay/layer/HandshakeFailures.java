package dev.onionrelay.layer;

import dev.onionrelay.layer.allow.PeerRefusedException;
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
 *
 * <p>Where the engine's words name nothing, the alerts read off the wire decide (see {@link AlertScanner}): an alert
 * the peer sent in the clear that the engine could not read (a TLS 1.3 client's unknown_ca), or the alert our engine
 * sent for a problem it describes in its own terms.
 */
public final class HandshakeFailures {

    public static final String TIMEOUT = "timeout";
    public static final String NOT_TLS = "not_tls";
    public static final String PEER_CLOSED = "peer_closed";
    public static final String OTHER = "other";

    /** A failure named by an alert the peer sent: the peer's complaint. */
    public static final String RECEIVED = "received";
    /** A failure named by an alert we sent, or by the alert meant for a problem we detected: our complaint. */
    public static final String SENT = "sent";

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

    /** The reason value for a failed handshake, from the engine's exception alone. */
    public static String reason(Throwable failure) {
        return reason(failure, AlertScanner.NONE, AlertScanner.NONE);
    }

    /**
     * The reason value for a failed handshake, given what the layer's records showed in the clear: the description of
     * the last alert the peer sent us and of the last one we sent ({@link AlertScanner#NONE} for none). In order:
     *
     * <ol>
     *   <li>the handshake timed out: {@code timeout};
     *   <li>the peer sent an alert: its name, the peer's complaint. The engine may have failed on it without naming it
     *       (an alert in the clear where it expected an encrypted record); a close_notify is {@code peer_closed};
     *   <li>we detected the problem: the alert RFC 8446 defines for it (see the class comment), or {@code not_tls};
     *   <li>we sent an alert the engine's message does not name: that alert's name;
     *   <li>the connection closed or was reset under the handshake: {@code peer_closed};
     *   <li>anything else: {@code other}.
     * </ol>
     */
    static String reason(Throwable failure, int alertReceived, int alertSent) {
        if (has(failure, SslHandshakeTimeoutException.class)) {
            return TIMEOUT;
        }
        if (alertReceived == 0) {
            return PEER_CLOSED;
        }
        String received = alertName(alertReceived);
        if (received != null) {
            return received;
        }
        String detected = detected(failure);
        if (detected != null) {
            return detected;
        }
        String sent = alertName(alertSent);
        if (sent != null && alertSent != 0) {
            return sent;
        }
        return closed(failure) ? PEER_CLOSED : OTHER;
    }

    /**
     * Which way the alert that names a failure went: {@link #RECEIVED}, {@link #SENT}, or null when the reason is no
     * alert ({@code timeout}, {@code not_tls}, {@code peer_closed}, {@code other}).
     */
    static String alertDirection(Throwable failure, int alertReceived, int alertSent) {
        if (!ALERTS.contains(reason(failure, alertReceived, alertSent))) {
            return null;
        }
        if (alertReceived > 0 && alertName(alertReceived) != null) {
            return RECEIVED;
        }
        for (Throwable t = failure; t != null; t = t.getCause() == t ? null : t.getCause()) {
            String message = t.getMessage();
            if (message != null
                    && (JDK_ALERT.matcher(message).find()
                            || BORINGSSL_ALERT.matcher(message).find())) {
                return RECEIVED;
            }
        }
        return SENT;
    }

    /** The name of alert {@code description} (RFC 8446 section 6, RFC 5246 section 7.2), or null if unknown. */
    static String alertName(int description) {
        return switch (description) {
            case 0 -> "close_notify";
            case 10 -> "unexpected_message";
            case 20 -> "bad_record_mac";
            case 22 -> "record_overflow";
            case 40 -> "handshake_failure";
            case 42 -> "bad_certificate";
            case 43 -> "unsupported_certificate";
            case 44 -> "certificate_revoked";
            case 45 -> "certificate_expired";
            case 46 -> "certificate_unknown";
            case 47 -> "illegal_parameter";
            case 48 -> "unknown_ca";
            case 49 -> "access_denied";
            case 50 -> "decode_error";
            case 51 -> "decrypt_error";
            case 70 -> "protocol_version";
            case 71 -> "insufficient_security";
            case 80 -> "internal_error";
            case 86 -> "inappropriate_fallback";
            case 90 -> "user_canceled";
            case 100 -> "no_renegotiation";
            case 109 -> "missing_extension";
            case 110 -> "unsupported_extension";
            case 112 -> "unrecognized_name";
            case 113 -> "bad_certificate_status_response";
            case 115 -> "unknown_psk_identity";
            case 116 -> "certificate_required";
            case 120 -> "no_application_protocol";
            default -> null;
        };
    }

    private static boolean has(Throwable failure, Class<? extends Throwable> type) {
        for (Throwable t = failure; t != null; t = t.getCause() == t ? null : t.getCause()) {
            if (type.isInstance(t)) {
                return true;
            }
        }
        return false;
    }

    /** The reason the exception names: an alert received or the problem we detected; null if it names none. */
    static String detected(Throwable failure) {
        for (Throwable t = failure; t != null; t = t.getCause() == t ? null : t.getCause()) {
            if (t instanceof NotSslRecordException) {
                return NOT_TLS;
            }
            if (t instanceof PeerRefusedException) {
                return PeerRefusedException.REASON;
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
        }
        return null;
    }

    /** Whether the connection went away under the handshake (closed, reset, or closed by the peer's close_notify). */
    private static boolean closed(Throwable failure) {
        for (Throwable t = failure; t != null; t = t.getCause() == t ? null : t.getCause()) {
            if (t instanceof ClosedChannelException) {
                return true;
            }
            String message = t.getMessage();
            if (message != null) {
                String lower = message.toLowerCase(Locale.ROOT);
                if (lower.contains("connection closed while ssl/tls handshake")
                        || lower.contains("close_notify during handshake")
                        || lower.contains("closed engine")
                        || lower.contains("connection reset")
                        || lower.contains("broken pipe")
                        || lower.contains("unexpected_eof")) {
                    return true;
                }
            }
        }
        return false;
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
        // JDK server: "No matching application layer protocol values"; a shaped layer's own check names it.
        if (lower.contains("no_application_protocol") || lower.contains("no matching application layer protocol")) {
            return "no_application_protocol";
        }
        if (lower.contains("no appropriate protocol")
                || lower.contains("unsupported_protocol")
                || lower.contains("protocol_version")
                // JDK server: "Client requested protocol TLSv1.1 is not enabled or supported in server context"
                || lower.contains("is not enabled or supported")
                // JDK: "The client supported protocol versions [TLSv1.2] are not accepted by server preferences"
                || lower.contains("protocol version") && lower.contains("not accepted")) {
            return "protocol_version";
        }
        if (lower.contains("no_shared_cipher")
                || lower.contains("no appropriate cipher")
                || lower.contains("no cipher suites in common")) {
            return "handshake_failure";
        }
        if (lower.contains("not an ssl/tls record")
                || lower.contains("wrong_version_number")
                || lower.contains("unsupported or unrecognized ssl message")) {
            return NOT_TLS;
        }
        return null;
    }
}
