package dev.onionrelay.relay.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import dev.onionrelay.relay.Endpoint;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import java.nio.charset.StandardCharsets;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** Reading one CONNECT request as a proxy does: what is a destination, what is refused with which status. */
class HttpConnectRequestTest {

    private static ByteBuf bytes(String text) {
        return Unpooled.copiedBuffer(text, StandardCharsets.ISO_8859_1);
    }

    static Stream<Arguments> destinations() {
        return Stream.of(
                Arguments.of("CONNECT localhost:8443 HTTP/1.1\r\nHost: localhost:8443\r\n\r\n", "localhost", 8443),
                Arguments.of("CONNECT 127.0.0.1:443 HTTP/1.1\r\n\r\n", "127.0.0.1", 443),
                Arguments.of("CONNECT [::1]:443 HTTP/1.1\r\n\r\n", "::1", 443),
                Arguments.of("CONNECT example.com:1 HTTP/1.0\r\n\r\n", "example.com", 1),
                Arguments.of("CONNECT a.b:65535 HTTP/1.1\n\n", "a.b", 65535),
                Arguments.of(
                        "CONNECT h:80 HTTP/1.1\r\nProxy-Authorization: Basic Zm9vOmJhcg==\r\nUser-Agent: curl\r\n\r\n",
                        "h",
                        80));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("destinations")
    void aConnectRequestNamesItsDestination(String request, String host, int port) {
        ProxyHandshake.Step step = new HttpConnectRequest().offer(bytes(request));
        assertThat(step).isEqualTo(new ProxyHandshake.Step.Destination(new Endpoint(host, port)));
    }

    static Stream<Arguments> refusals() {
        return Stream.of(
                Arguments.of("GET / HTTP/1.1\r\nHost: x\r\n\r\n", 405),
                Arguments.of("GET http://x/ HTTP/1.1\r\n", 405),
                Arguments.of("HELLO\r\n", 400),
                Arguments.of("CONNECT  localhost:1 HTTP/1.1\r\n", 400),
                Arguments.of("CONNECT localhost:1 HTTP/2.0\r\n", 400),
                Arguments.of("CONNECT localhost HTTP/1.1\r\n\r\n", 400),
                Arguments.of("CONNECT localhost:0 HTTP/1.1\r\n\r\n", 400),
                Arguments.of("CONNECT localhost:65536 HTTP/1.1\r\n\r\n", 400),
                Arguments.of("CONNECT localhost:http HTTP/1.1\r\n\r\n", 400),
                Arguments.of("CONNECT :443 HTTP/1.1\r\n\r\n", 400),
                Arguments.of("CONNECT user@host:443 HTTP/1.1\r\n\r\n", 400),
                Arguments.of("CONNECT [::1:443 HTTP/1.1\r\n\r\n", 400),
                Arguments.of("CONNECT h:443 HTTP/1.1\r\nno colon here\r\n\r\n", 400),
                Arguments.of("\u0016\u0003\u0001\u0002\u0000\u0001\u0000\u0001\u00fc\u0003\u0003\n", 400),
                Arguments.of("CONNECT h:443 HTTP/1.1\r\nX: " + "a".repeat(9000), 431),
                Arguments.of("CONNECT h:443 HTTP/1.1\r\nX: " + "a".repeat(9000) + "\r\n\r\n", 431));
    }

    @ParameterizedTest(name = "{1}: {0}")
    @MethodSource("refusals")
    void aBadRequestIsRefusedWithItsStatus(String request, int status) {
        ProxyHandshake.Step step = new HttpConnectRequest().offer(bytes(request));
        assertThat(step).isInstanceOf(ProxyHandshake.Step.Refusal.class);
        String reply = new String(((ProxyHandshake.Step.Refusal) step).reply(), StandardCharsets.US_ASCII);
        assertThat(reply).startsWith("HTTP/1.1 " + status + " ").contains("Connection: close\r\n");
    }

    @Test
    void anIncompleteRequestWaitsForMoreAndConsumesNothing() {
        ByteBuf in = bytes("CONNECT localhost:8443 HTTP/1.1\r\nHost: local");
        assertThat(new HttpConnectRequest().offer(in)).isEqualTo(new ProxyHandshake.Step.NeedMore(null));
        assertThat(in.readerIndex()).isZero();
        assertThat(new HttpConnectRequest().offer(bytes("CONNECT localhost:84")))
                .isEqualTo(new ProxyHandshake.Step.NeedMore(null));
        assertThat(new HttpConnectRequest().offer(bytes("CONNECT h:1 HTTP/1.1\r\n\r")))
                .isEqualTo(new ProxyHandshake.Step.NeedMore(null));
    }

    @Test
    void bytesAfterTheRequestStayForTheTarget() {
        ByteBuf in = bytes("CONNECT h:1 HTTP/1.1\r\n\r\n\u0016\u0003\u0001client hello");
        assertThat(new HttpConnectRequest().offer(in)).isInstanceOf(ProxyHandshake.Step.Destination.class);
        assertThat(in.toString(StandardCharsets.ISO_8859_1)).isEqualTo("\u0016\u0003\u0001client hello");
    }

    @Test
    void answersAreShortHttpResponses() {
        HttpConnectRequest http = new HttpConnectRequest();
        assertThat(new String(http.answer(ProxyOutcome.GRANTED), StandardCharsets.US_ASCII))
                .isEqualTo("HTTP/1.1 200 Connection Established\r\n\r\n");
        assertThat(new String(http.answer(ProxyOutcome.DENIED), StandardCharsets.US_ASCII))
                .startsWith("HTTP/1.1 403 ");
        assertThat(new String(http.answer(ProxyOutcome.REFUSED), StandardCharsets.US_ASCII))
                .startsWith("HTTP/1.1 502 ");
        assertThat(new String(http.answer(ProxyOutcome.UNREACHABLE), StandardCharsets.US_ASCII))
                .startsWith("HTTP/1.1 502 ");
        assertThat(new String(http.answer(ProxyOutcome.TIMEOUT), StandardCharsets.US_ASCII))
                .startsWith("HTTP/1.1 504 ");
        assertThat(new String(http.timedOut(), StandardCharsets.US_ASCII)).startsWith("HTTP/1.1 408 ");
    }
}
