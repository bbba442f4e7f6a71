package dev.onionrelay.relay.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import dev.onionrelay.relay.Endpoint;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.function.Supplier;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * A proxy request read the way the tunnel reads it: bytes arrive in any pieces, are added to one buffer and offered
 * again (a reply sent on the way, such as the SOCKS method selection, and the rest of the same read offered at once).
 * Wherever the stream is split (byte by byte, or at any two points) the outcome is the same as in one read: the same
 * destination, the same replies in the same order, and the client's first data after the request left untouched;
 * a bad request is refused as soon as it is known to be bad and an incomplete one only waits. Also the size limit at
 * its exact bound.
 */
class ProxyHandshakeSplitReadsTest {

    private static final HexFormat HEX = HexFormat.of();

    /** What one feeding of a stream produced. */
    record Outcome(ProxyHandshake.Step last, List<String> replies, String leftover, int offers) {}

    /**
     * The tunnel's loop ({@code Tunnel.readRequest}): cumulate, offer, send a reply and offer again while bytes remain,
     * discard what was read and wait for more.
     */
    private static Outcome feed(ProxyHandshake handshake, List<byte[]> pieces) {
        ByteBuf cumulation = Unpooled.buffer();
        List<String> replies = new ArrayList<>();
        ProxyHandshake.Step step = new ProxyHandshake.Step.NeedMore(null);
        int offers = 0;
        try {
            for (int i = 0; i < pieces.size(); i++) {
                cumulation.writeBytes(pieces.get(i));
                while (true) {
                    step = handshake.offer(cumulation);
                    offers++;
                    if (step instanceof ProxyHandshake.Step.NeedMore more) {
                        if (more.reply() != null) {
                            replies.add(HEX.formatHex(more.reply()));
                            if (cumulation.isReadable()) {
                                continue;
                            }
                        }
                        cumulation.discardReadBytes();
                        break;
                    }
                    if (step instanceof ProxyHandshake.Step.Destination) {
                        // The tunnel holds what arrives next for the target, after what was left of this read.
                        for (byte[] later : pieces.subList(i + 1, pieces.size())) {
                            cumulation.writeBytes(later);
                        }
                    }
                    return new Outcome(step, replies, HEX.formatHex(ByteBufUtil.getBytes(cumulation)), offers);
                }
            }
            return new Outcome(step, replies, HEX.formatHex(ByteBufUtil.getBytes(cumulation)), offers);
        } finally {
            cumulation.release();
        }
    }

    private static List<byte[]> split(byte[] bytes, int... at) {
        List<byte[]> pieces = new ArrayList<>();
        int from = 0;
        for (int point : at) {
            pieces.add(java.util.Arrays.copyOfRange(bytes, from, point));
            from = point;
        }
        pieces.add(java.util.Arrays.copyOfRange(bytes, from, bytes.length));
        return pieces;
    }

    private static List<byte[]> byteByByte(byte[] bytes) {
        List<byte[]> pieces = new ArrayList<>();
        for (byte b : bytes) {
            pieces.add(new byte[] {b});
        }
        return pieces;
    }

    private static byte[] ascii(String text) {
        return text.getBytes(StandardCharsets.ISO_8859_1);
    }

    private static byte[] hex(String hex) {
        return HEX.parseHex(hex.replace(" ", ""));
    }

    /** A stream (request and first data), the handshake that reads it, and what one read of it gives. */
    static Stream<Arguments> streams() {
        Supplier<ProxyHandshake> http = HttpConnectRequest::new;
        Supplier<ProxyHandshake> socks = Socks5Handshake::new;
        return Stream.of(
                Arguments.of(
                        "CONNECT, CRLF, headers, first data",
                        http,
                        ascii(
                                "CONNECT localhost:8443 HTTP/1.1\r\nHost: localhost:8443\r\nUser-Agent: t\r\n\r\n\u0016\u0003\u0001hi")),
                Arguments.of("CONNECT, bare LF", http, ascii("CONNECT [::1]:443 HTTP/1.0\n\nDATA")),
                Arguments.of("CONNECT, no first data", http, ascii("CONNECT h:1 HTTP/1.1\r\n\r\n")),
                Arguments.of("CONNECT with a wrong method", http, ascii("POST /x HTTP/1.1\r\nHost: h\r\n\r\n")),
                Arguments.of("CONNECT with a bad header", http, ascii("CONNECT h:1 HTTP/1.1\r\n: x\r\n\r\n")),
                Arguments.of(
                        "SOCKS5 greeting, IPv4 request, first data",
                        socks,
                        hex("05 02 02 00" + "05 01 00 01 7f000001 20fb" + "16030100")),
                Arguments.of(
                        "SOCKS5 greeting, domain request",
                        socks,
                        hex("05 01 00" + "05 01 00 03 0b 6578616d706c652e636f6d 01bb")),
                Arguments.of(
                        "SOCKS5 greeting, IPv6 request",
                        socks,
                        hex("05 01 00" + "05 01 00 04 20010db8000000000000000000000017 0050 ff")),
                Arguments.of("SOCKS5 BIND after a greeting", socks, hex("05 01 00" + "05 02 00 01 7f000001 01bb")),
                Arguments.of("SOCKS5 without no-authentication", socks, hex("05 02 01 02")),
                Arguments.of("SOCKS4", socks, hex("04 01 0050 7f000001 00")));
    }

    @ParameterizedTest(name = "{0}, byte by byte")
    @MethodSource("streams")
    void byteByByteGivesWhatOneReadGives(String what, Supplier<ProxyHandshake> handshake, byte[] stream) {
        Outcome whole = feed(handshake.get(), List.of(stream));
        Outcome pieces = feed(handshake.get(), byteByByte(stream));
        assertThat(whole.last()).isNotInstanceOf(ProxyHandshake.Step.NeedMore.class);
        assertSame(pieces, whole, what + " byte by byte");
    }

    @ParameterizedTest(name = "{0}, split at any two points")
    @MethodSource("streams")
    void anyTwoSplitsGiveWhatOneReadGives(String what, Supplier<ProxyHandshake> handshake, byte[] stream) {
        Outcome whole = feed(handshake.get(), List.of(stream));
        for (int first = 0; first <= stream.length; first++) {
            for (int second = first; second <= stream.length; second++) {
                assertSame(
                        feed(handshake.get(), split(stream, first, second)),
                        whole,
                        what + " split at " + first + " and " + second);
            }
        }
    }

    private static void assertSame(Outcome actual, Outcome expected, String what) {
        if (expected.last() instanceof ProxyHandshake.Step.Refusal refusal) {
            assertThat(actual.last()).as(what).isInstanceOf(ProxyHandshake.Step.Refusal.class);
            ProxyHandshake.Step.Refusal got = (ProxyHandshake.Step.Refusal) actual.last();
            assertThat(got.reply()).as(what).isEqualTo(refusal.reply());
            assertThat(got.why()).as(what).isEqualTo(refusal.why());
        } else {
            assertThat(actual.last()).as(what).isEqualTo(expected.last());
            assertThat(actual.leftover()).as(what + ": the first data stays").isEqualTo(expected.leftover());
        }
        assertThat(actual.replies()).as(what + ": replies").isEqualTo(expected.replies());
    }

    @Test
    void aSocksGreetingAndRequestInOneReadGetTheMethodSelectionThenTheDestination() {
        Outcome outcome = feed(new Socks5Handshake(), List.of(hex("05 01 00 05 01 00 01 0a000001 0016 cafe")));
        assertThat(outcome.replies()).containsExactly("0500");
        assertThat(outcome.last()).isEqualTo(new ProxyHandshake.Step.Destination(new Endpoint("10.0.0.1", 22)));
        assertThat(outcome.leftover()).isEqualTo("cafe");
        assertThat(outcome.offers())
                .as("the rest of the read is offered at once")
                .isEqualTo(2);
    }

    @Test
    void aMalformedRequestLineIsRefusedWithoutWaitingForHeadersThatNeverCome() {
        Outcome outcome = feed(new HttpConnectRequest(), byteByByte(ascii("CONNECT a b c d\r\nHost: x\r\n")));
        assertThat(outcome.last()).isInstanceOf(ProxyHandshake.Step.Refusal.class);
        assertThat(outcome.leftover())
                .as("refused as the request line ended, before a byte of the headers was read")
                .isEqualTo(HEX.formatHex(ascii("CONNECT a b c d\r\n")));
    }

    @Test
    void anIncompleteRequestKeepsEveryByteForTheNextRead() {
        byte[] start = ascii("CONNECT h:1 HTTP/1.1\r\nHost: h\r\n");
        Outcome outcome = feed(new HttpConnectRequest(), byteByByte(start));
        assertThat(outcome.last()).isEqualTo(new ProxyHandshake.Step.NeedMore(null));
        assertThat(outcome.leftover()).isEqualTo(HEX.formatHex(start));
    }

    /** A CONNECT request of exactly {@code size} bytes: one header padded to fit. */
    private static byte[] requestOfSize(int size) {
        String head = "CONNECT h:1 HTTP/1.1\r\nX-Pad: ";
        String end = "\r\n\r\n";
        return ascii(head + "p".repeat(size - head.length() - end.length()) + end);
    }

    @Test
    void aRequestOfExactlyTheLimitIsServedOneByteMoreIsTooLarge() {
        byte[] atLimit = requestOfSize(ProxyHandshake.MAX_REQUEST_BYTES);
        assertThat(atLimit).hasSize(ProxyHandshake.MAX_REQUEST_BYTES);
        assertThat(new HttpConnectRequest().offer(Unpooled.wrappedBuffer(atLimit)))
                .isEqualTo(new ProxyHandshake.Step.Destination(new Endpoint("h", 1)));

        ProxyHandshake.Step over = new HttpConnectRequest()
                .offer(Unpooled.wrappedBuffer(requestOfSize(ProxyHandshake.MAX_REQUEST_BYTES + 1)));
        assertThat(over).isInstanceOf(ProxyHandshake.Step.Refusal.class);
        assertThat(new String(((ProxyHandshake.Step.Refusal) over).reply(), StandardCharsets.US_ASCII))
                .startsWith("HTTP/1.1 431 ");
    }

    @Test
    void anUnfinishedRequestWaitsUpToTheLimitAndIsRefusedPastIt() {
        byte[] unfinished = ascii("CONNECT h:1 HTTP/1.1\r\nX-Pad: " + "p".repeat(9000));
        ProxyHandshake.Step atLimit =
                new HttpConnectRequest().offer(Unpooled.wrappedBuffer(unfinished, 0, ProxyHandshake.MAX_REQUEST_BYTES));
        assertThat(atLimit).isEqualTo(new ProxyHandshake.Step.NeedMore(null));
        ProxyHandshake.Step past = new HttpConnectRequest()
                .offer(Unpooled.wrappedBuffer(unfinished, 0, ProxyHandshake.MAX_REQUEST_BYTES + 1));
        assertThat(past).isInstanceOf(ProxyHandshake.Step.Refusal.class);
        assertThat(((ProxyHandshake.Step.Refusal) past).why()).contains("larger than");
    }

    static Stream<Arguments> socksEdges() {
        String longest = "61".repeat(253);
        String tooLong = "61".repeat(254);
        return Stream.of(
                Arguments.of("no methods offered", "05 00", "05ff", null),
                Arguments.of(
                        "no-authentication among others",
                        "05 03 01 02 00 05 01 00 01 7f000001 0050",
                        "0500",
                        "127.0.0.1:80"),
                Arguments.of(
                        "the longest domain name",
                        "05 01 00 05 01 00 03 fd " + longest + " 0050",
                        "0500",
                        "a".repeat(253) + ":80"),
                Arguments.of(
                        "a domain name over 253",
                        "05 01 00 05 01 00 03 fe " + tooLong + " 0050",
                        "0500",
                        "refused 05010001000000000000"),
                Arguments.of(
                        "an IPv4-mapped IPv6 address",
                        "05 01 00 05 01 00 04 00000000000000000000ffff0a000001 01bb",
                        "0500",
                        "10.0.0.1:443"),
                Arguments.of("the highest port", "05 01 00 05 01 00 01 7f000001 ffff", "0500", "127.0.0.1:65535"),
                Arguments.of(
                        "a domain with an underscore and digits",
                        "05 01 00 05 01 00 03 05 5f61312d62 0016",
                        "0500",
                        "_a1-b:22"));
    }

    @ParameterizedTest(name = "SOCKS5: {0}")
    @MethodSource("socksEdges")
    void socksEdgeCases(String what, String stream, String firstReply, String expected) {
        Outcome outcome = feed(new Socks5Handshake(), List.of(hex(stream)));
        assertThat(
                        outcome.replies().isEmpty()
                                ? HEX.formatHex(((ProxyHandshake.Step.Refusal) outcome.last()).reply())
                                : outcome.replies().get(0))
                .as(what)
                .isEqualTo(firstReply);
        if (expected == null) {
            assertThat(outcome.last()).isInstanceOf(ProxyHandshake.Step.Refusal.class);
        } else if (expected.startsWith("refused ")) {
            assertThat(outcome.last()).isInstanceOf(ProxyHandshake.Step.Refusal.class);
            assertThat(HEX.formatHex(((ProxyHandshake.Step.Refusal) outcome.last()).reply()))
                    .isEqualTo(expected.substring("refused ".length()));
        } else {
            assertThat(outcome.last()).isInstanceOf(ProxyHandshake.Step.Destination.class);
            assertThat(((ProxyHandshake.Step.Destination) outcome.last())
                            .destination()
                            .toString())
                    .as(what)
                    .isEqualTo(expected);
        }
    }

    @Test
    void nothingIsConsumedFromAnIncompleteSocksRequest() {
        Socks5Handshake socks = new Socks5Handshake();
        assertThat(socks.offer(Unpooled.wrappedBuffer(hex("05 01 00"))))
                .isInstanceOf(ProxyHandshake.Step.NeedMore.class);
        ByteBuf partial = Unpooled.wrappedBuffer(hex("05 01 00 03 0b 6578616d706c65"));
        assertThat(socks.offer(partial)).isEqualTo(new ProxyHandshake.Step.NeedMore(null));
        assertThat(partial.readerIndex()).isZero();
    }
}
