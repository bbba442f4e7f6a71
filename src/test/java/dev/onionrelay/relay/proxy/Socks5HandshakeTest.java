package dev.onionrelay.relay.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import dev.onionrelay.relay.Endpoint;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import java.util.HexFormat;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** The SOCKS5 server side of RFC 1928, byte by byte: method selection, CONNECT requests, the refusals. */
class Socks5HandshakeTest {

    private static final HexFormat HEX = HexFormat.of();

    private static ByteBuf hex(String hex) {
        return Unpooled.wrappedBuffer(HEX.parseHex(hex.replace(" ", "")));
    }

    /** A handshake past its method selection (no authentication chosen). */
    private static Socks5Handshake greeted() {
        Socks5Handshake socks = new Socks5Handshake();
        ProxyHandshake.Step step = socks.offer(hex("05 01 00"));
        assertThat(step).isInstanceOf(ProxyHandshake.Step.NeedMore.class);
        assertThat(HEX.formatHex(((ProxyHandshake.Step.NeedMore) step).reply())).isEqualTo("0500");
        return socks;
    }

    static Stream<Arguments> destinations() {
        return Stream.of(
                Arguments.of("05 01 00 01 7f000001 01bb", "127.0.0.1", 443),
                Arguments.of("05 01 00 04 00000000000000000000000000000001 2001", "0:0:0:0:0:0:0:1", 8193),
                Arguments.of("05 01 00 03 09 6c6f63616c686f7374 0050", "localhost", 80));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("destinations")
    void aConnectRequestNamesItsDestination(String request, String host, int port) {
        ByteBuf in = hex(request + " cafe");
        assertThat(greeted().offer(in)).isEqualTo(new ProxyHandshake.Step.Destination(new Endpoint(host, port)));
        assertThat(HEX.formatHex(io.netty.buffer.ByteBufUtil.getBytes(in)))
                .as("bytes after the request stay for the target")
                .isEqualTo("cafe");
    }

    static Stream<Arguments> refusals() {
        return Stream.of(
                Arguments.of("bind", "05 02 00 01 7f000001 01bb", "05070001000000000000"),
                Arguments.of("udp associate", "05 03 00 01 7f000001 01bb", "05070001000000000000"),
                Arguments.of("unknown address type", "05 01 00 05 7f000001 01bb", "05080001000000000000"),
                Arguments.of("version 4 in the request", "04 01 00 01 7f000001 01bb", null),
                Arguments.of("an empty domain name", "05 01 00 03 00 0050", "05010001000000000000"),
                Arguments.of("a domain name with a space", "05 01 00 03 03 612062 0050", "05010001000000000000"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("refusals")
    void aBadRequestGetsItsReplyOrIsClosed(String what, String request, String reply) {
        ProxyHandshake.Step step = greeted().offer(hex(request));
        assertThat(step).isInstanceOf(ProxyHandshake.Step.Refusal.class);
        byte[] sent = ((ProxyHandshake.Step.Refusal) step).reply();
        assertThat(sent == null ? null : HEX.formatHex(sent)).isEqualTo(reply);
    }

    @Test
    void anotherVersionIsClosedWithoutAReply() {
        ProxyHandshake.Step step = new Socks5Handshake().offer(hex("04 01 00 50 7f000001 00"));
        assertThat(step).isInstanceOf(ProxyHandshake.Step.Refusal.class);
        assertThat(((ProxyHandshake.Step.Refusal) step).reply()).isNull();
    }

    @Test
    void aClientThatDoesNotOfferNoAuthenticationGetsNoAcceptableMethod() {
        ProxyHandshake.Step step = new Socks5Handshake().offer(hex("05 01 02"));
        assertThat(HEX.formatHex(((ProxyHandshake.Step.Refusal) step).reply())).isEqualTo("05ff");
    }

    @Test
    void partsOfMessagesWaitForTheRest() {
        Socks5Handshake socks = new Socks5Handshake();
        assertThat(socks.offer(hex("05"))).isEqualTo(new ProxyHandshake.Step.NeedMore(null));
        assertThat(socks.offer(hex("05 02 00"))).isEqualTo(new ProxyHandshake.Step.NeedMore(null));
        Socks5Handshake greeted = greeted();
        assertThat(greeted.offer(hex("05 01 00 03 09 6c6f63"))).isEqualTo(new ProxyHandshake.Step.NeedMore(null));
        assertThat(greeted.offer(hex("05 01 00 01 7f0000"))).isEqualTo(new ProxyHandshake.Step.NeedMore(null));
    }

    @Test
    void eachOutcomeHasItsReplyCode() {
        Socks5Handshake socks = new Socks5Handshake();
        assertThat(socks.answer(ProxyOutcome.GRANTED)[1]).isEqualTo((byte) 0x00);
        assertThat(socks.answer(ProxyOutcome.DENIED)[1]).isEqualTo((byte) 0x02);
        assertThat(socks.answer(ProxyOutcome.UNREACHABLE)[1]).isEqualTo((byte) 0x04);
        assertThat(socks.answer(ProxyOutcome.REFUSED)[1]).isEqualTo((byte) 0x05);
        assertThat(socks.answer(ProxyOutcome.TIMEOUT)[1]).isEqualTo((byte) 0x06);
        assertThat(socks.timedOut()).isNull();
    }
}
