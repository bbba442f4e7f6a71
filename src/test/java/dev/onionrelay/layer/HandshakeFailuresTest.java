package dev.onionrelay.layer;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.handler.codec.DecoderException;
import io.netty.handler.ssl.NotSslRecordException;
import io.netty.handler.ssl.SslHandshakeTimeoutException;
import java.net.SocketException;
import java.nio.channels.ClosedChannelException;
import java.security.cert.CertPathBuilderException;
import java.security.cert.CertificateExpiredException;
import java.util.stream.Stream;
import javax.crypto.BadPaddingException;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLHandshakeException;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The classifier on its own: what JDK 17 and BoringSSL (netty-tcnative) say when a handshake fails, and the alerts
 * seen in the clear on the layer's records, to the reason counted. The messages are the ones the engines produce in
 * the scenario tests (RealClientFailureReasonTest, HandshakeFailureTest, AbandonedHandshakeTest).
 */
class HandshakeFailuresTest {

    static final int NONE = AlertScanner.NONE;

    static Stream<Arguments> cases() {
        return Stream.of(
                // --- what the engine says, no alert seen in the clear ----------------------------------------------
                row(
                        "timeout",
                        new SslHandshakeTimeoutException("handshake timed out after 300ms"),
                        NONE,
                        NONE,
                        "timeout",
                        null),
                row(
                        "not TLS",
                        new DecoderException(new NotSslRecordException("not an SSL/TLS record: 474554")),
                        NONE,
                        NONE,
                        "not_tls",
                        null),
                row(
                        "JDK received alert",
                        handshake("Received fatal alert: unknown_ca"),
                        NONE,
                        NONE,
                        "unknown_ca",
                        "received"),
                row(
                        "BoringSSL received alert",
                        handshake("error:10000418:SSL routines:OPENSSL_internal:" + "TLSV1_ALERT_UNKNOWN_CA"),
                        NONE,
                        NONE,
                        "unknown_ca",
                        "received"),
                row(
                        "JDK: chain to no trust anchor",
                        handshake(
                                "PKIX path building failed",
                                new CertPathBuilderException("unable to find valid certification path")),
                        NONE,
                        NONE,
                        "unknown_ca",
                        "sent"),
                row(
                        "expired certificate",
                        handshake("expired", new CertificateExpiredException("NotAfter")),
                        NONE,
                        NONE,
                        "certificate_expired",
                        "sent"),
                row(
                        "JDK server refuses TLS 1.2 (TLS 1.3 only)",
                        handshake(
                                "Client requested protocol TLSv1.2 is not" + " enabled or supported in server context"),
                        NONE,
                        NONE,
                        "protocol_version",
                        "sent"),
                row(
                        "JDK server refuses TLS 1.1",
                        handshake(
                                "Client requested protocol TLSv1.1 is not enabled or" + " supported in server context"),
                        NONE,
                        NONE,
                        "protocol_version",
                        "sent"),
                row(
                        "JDK: versions not accepted",
                        handshake("The client supported protocol versions [TLSv1.1] are not"
                                + " accepted by server preferences [TLS13, TLS12]"),
                        NONE,
                        NONE,
                        "protocol_version",
                        "sent"),
                row(
                        "BoringSSL refuses an old protocol",
                        handshake("error:100000f0:SSL routines:OPENSSL_internal:" + "UNSUPPORTED_PROTOCOL"),
                        NONE,
                        NONE,
                        "protocol_version",
                        "sent"),
                row(
                        "JDK: no common cipher",
                        handshake("no cipher suites in common"),
                        NONE,
                        NONE,
                        "handshake_failure",
                        "sent"),
                row(
                        "BoringSSL: no common cipher",
                        handshake("error:100000b8:SSL routines:OPENSSL_internal:" + "NO_SHARED_CIPHER"),
                        NONE,
                        NONE,
                        "handshake_failure",
                        "sent"),
                row("closed under the handshake", new ClosedChannelException(), NONE, NONE, "peer_closed", null),
                row(
                        "reset under the handshake",
                        new SocketException("Connection reset"),
                        NONE,
                        NONE,
                        "peer_closed",
                        null),
                row(
                        "JDK: close_notify during the handshake",
                        new SSLException("Received close_notify during" + " handshake"),
                        NONE,
                        NONE,
                        "peer_closed",
                        null),
                row("nothing known", new SSLException("something unheard of"), NONE, NONE, "other", null),
                row("no exception text", new IllegalStateException(), NONE, NONE, "other", null),

                // --- an alert received in the clear: the peer's complaint wins -------------------------------------
                row(
                        "JDK: TLS 1.3 client's unknown_ca in the clear",
                        handshake(
                                "Insufficient buffer remaining for AEAD"
                                        + " cipher fragment (2). Needs to be more than tag size (16)",
                                new BadPaddingException("Insufficient buffer remaining for AEAD cipher fragment (2)")),
                        48,
                        NONE,
                        "unknown_ca",
                        "received"),
                row(
                        "BoringSSL: TLS 1.3 client's unknown_ca in the clear",
                        handshake("error:10000070:SSL routines:" + "OPENSSL_internal:BAD_PACKET_LENGTH"),
                        48,
                        NONE,
                        "unknown_ca",
                        "received"),
                row(
                        "bad_certificate received",
                        handshake("BAD_PACKET_LENGTH"),
                        42,
                        NONE,
                        "bad_certificate",
                        "received"),
                row("close_notify received", handshake("BAD_PACKET_LENGTH"), 0, NONE, "peer_closed", null),
                row("received beats sent", handshake("BAD_PACKET_LENGTH"), 48, 50, "unknown_ca", "received"),
                row(
                        "alert received, then the connection closed",
                        new ClosedChannelException(),
                        46,
                        NONE,
                        "certificate_unknown",
                        "received"),
                row(
                        "unknown alert number received: the engine decides",
                        handshake("no cipher suites in common"),
                        222,
                        NONE,
                        "handshake_failure",
                        "sent"),

                // --- an alert we sent, when the engine's words name none ------------------------------------------
                row(
                        "BoringSSL: AES128-SHA only client, alert 40 sent",
                        handshake("error:100000f3:SSL routines:" + "OPENSSL_internal:WRONG_CURVE"),
                        NONE,
                        40,
                        "handshake_failure",
                        "sent"),
                row(
                        "what we detect beats the alert we sent",
                        handshake("PKIX path building failed", new CertPathBuilderException("no path")),
                        NONE,
                        46,
                        "unknown_ca",
                        "sent"),
                row("a sent close_notify is not a reason", new ClosedChannelException(), NONE, 0, "peer_closed", null),
                row(
                        "timeout beats everything",
                        new SslHandshakeTimeoutException("timed out"),
                        48,
                        40,
                        "timeout",
                        null));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void classifies(String what, Throwable failure, int received, int sent, String expected, String direction) {
        assertThat(HandshakeFailures.reason(failure, received, sent)).isEqualTo(expected);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void tellsAnAlertReceivedFromAnAlertSent(
            String what, Throwable failure, int received, int sent, String expected, String direction) {
        assertThat(HandshakeFailures.alertDirection(failure, received, sent)).isEqualTo(direction);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void everyReasonIsInTheVocabulary(
            String what, Throwable failure, int received, int sent, String expected, String direction) {
        String reason = HandshakeFailures.reason(failure, received, sent);
        assertThat(HandshakeFailures.ALERTS.contains(reason)
                        || Stream.of("timeout", "not_tls", "peer_closed", "other")
                                .anyMatch(reason::equals))
                .as(reason)
                .isTrue();
    }

    @org.junit.jupiter.api.Test
    void everyAlertNumberNamesAnAlertOfTheVocabulary() {
        for (int description = 0; description < 256; description++) {
            String name = HandshakeFailures.alertName(description);
            if (name != null) {
                assertThat(HandshakeFailures.ALERTS).as("alert %d", description).contains(name);
            }
        }
        assertThat(HandshakeFailures.alertName(48)).isEqualTo("unknown_ca");
        assertThat(HandshakeFailures.alertName(70)).isEqualTo("protocol_version");
        assertThat(HandshakeFailures.alertName(40)).isEqualTo("handshake_failure");
        assertThat(HandshakeFailures.alertName(116)).isEqualTo("certificate_required");
    }

    private static Arguments row(
            String what, Throwable failure, int received, int sent, String expected, String direction) {
        return Arguments.of(what, failure, received, sent, expected, direction);
    }

    private static SSLHandshakeException handshake(String message) {
        return new SSLHandshakeException(message);
    }

    private static SSLHandshakeException handshake(String message, Throwable cause) {
        SSLHandshakeException exception = new SSLHandshakeException(message);
        exception.initCause(cause);
        return exception;
    }
}
