package dev.onionrelay.relay.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.util.HexFormat;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * How a connect failure becomes the client's answer: the engine's failure reason maps to an outcome, the outcome to
 * its metric label, its HTTP status and its SOCKS5 reply code; every HTTP answer is a complete response whose
 * {@code Content-Length} is its body, so a client reads it and sees the connection close.
 */
class ProxyOutcomeTest {

    @ParameterizedTest(name = "connect failure {0} -> {1}")
    @CsvSource({
        "policy, DENIED",
        "refused, REFUSED",
        "timeout, TIMEOUT",
        "unresolved, UNREACHABLE",
        "unreachable, UNREACHABLE",
        "proxy_refused, UNREACHABLE",
        "other, UNREACHABLE",
        "'', UNREACHABLE"
    })
    void aConnectFailureReasonMapsToAnOutcome(String reason, ProxyOutcome outcome) {
        assertThat(ProxyOutcome.ofConnectFailure(reason)).isEqualTo(outcome);
    }

    @ParameterizedTest(name = "{0}: label {1}, HTTP {2}, SOCKS5 {3}")
    @CsvSource({
        "GRANTED, granted, 200, 00",
        "DENIED, denied, 403, 02",
        "REFUSED, unreachable, 502, 05",
        "UNREACHABLE, unreachable, 502, 04",
        "TIMEOUT, timeout, 504, 06",
        "BAD_REQUEST, bad_request, 400, 01"
    })
    void eachOutcomeHasItsLabelStatusAndReplyCode(ProxyOutcome outcome, String label, int status, String code) {
        assertThat(outcome.label()).isEqualTo(label);
        String http = new String(new HttpConnectRequest().answer(outcome), StandardCharsets.US_ASCII);
        assertThat(http).startsWith("HTTP/1.1 " + status + " ");
        byte[] socks = new Socks5Handshake().answer(outcome);
        assertThat(HexFormat.of().formatHex(socks))
                .as("version, code, reserved, an unspecified IPv4 bound address and port")
                .isEqualTo("05" + code + "0001000000000000");
    }

    @ParameterizedTest
    @EnumSource(
            value = ProxyOutcome.class,
            names = {"GRANTED"},
            mode = EnumSource.Mode.EXCLUDE)
    void everyHttpRefusalIsACompleteResponseThatCloses(ProxyOutcome outcome) {
        assertCompleteResponse(new String(new HttpConnectRequest().answer(outcome), StandardCharsets.US_ASCII));
    }

    @ParameterizedTest(name = "{0} {1}")
    @CsvSource({
        "400, Bad Request",
        "405, Method Not Allowed",
        "408, Request Timeout",
        "431, Request Header Fields Too Large"
    })
    void requestRefusalsAreCompleteResponsesToo(int status, String reason) {
        String response = new String(
                HttpConnectRequest.response(status, reason, "why it was refused"), StandardCharsets.US_ASCII);
        assertThat(response).startsWith("HTTP/1.1 " + status + " " + reason + "\r\n");
        assertCompleteResponse(response);
        assertThat(response.contains("Allow: CONNECT\r\n"))
                .as("405 names the method that is served")
                .isEqualTo(status == 405);
    }

    private static void assertCompleteResponse(String response) {
        int end = response.indexOf("\r\n\r\n");
        assertThat(end).isPositive();
        String head = response.substring(0, end);
        String body = response.substring(end + 4);
        assertThat(head).contains("\r\nConnection: close").contains("\r\nContent-Type: text/plain");
        assertThat(head).contains("\r\nContent-Length: " + body.getBytes(StandardCharsets.US_ASCII).length);
        assertThat(body).endsWith("\n").hasSizeGreaterThan(1);
    }

    @ParameterizedTest
    @EnumSource(ProxyOutcome.class)
    void aSocksAnswerIsAlwaysTenBytesAndAnHttpAnswerAlwaysHttp(ProxyOutcome outcome) {
        assertThat(new Socks5Handshake().answer(outcome)).hasSize(10);
        assertThat(new String(new HttpConnectRequest().answer(outcome), StandardCharsets.US_ASCII))
                .startsWith("HTTP/1.1 ")
                .contains("\r\n\r\n");
    }
}
