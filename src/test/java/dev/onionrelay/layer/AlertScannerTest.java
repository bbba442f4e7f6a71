package dev.onionrelay.layer;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import java.io.ByteArrayOutputStream;
import java.util.HexFormat;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The record follower behind the alerts read off the wire: it finds an alert in the clear wherever the stream is
 * split, ignores encrypted alerts and alert bytes inside other records, and gives up on a stream that is not TLS.
 */
class AlertScannerTest {

    static final String CLIENT_HELLO_START = "16030100c8" + "01".repeat(200);
    static final String CHANGE_CIPHER_SPEC = "140303000101";
    static final String ENCRYPTED_RECORD = "1703030013" + "15".repeat(19);

    static Stream<Arguments> streams() {
        return Stream.of(
                Arguments.of("a fatal unknown_ca in the clear", "15030300020230", 48, true),
                Arguments.of("after a ClientHello", CLIENT_HELLO_START + "15030100020246", 70, true),
                Arguments.of(
                        "TLS 1.3: after CCS and an encrypted record",
                        CHANGE_CIPHER_SPEC + ENCRYPTED_RECORD + "15030300020230",
                        48,
                        true),
                Arguments.of("the last of two alerts", "15030300020128" + "15030300020100", 0, false),
                Arguments.of(
                        "an encrypted alert is not read (TLS 1.2, longer than two bytes)",
                        "150303001a" + "30".repeat(26),
                        AlertScanner.NONE,
                        false),
                Arguments.of(
                        "alert-looking bytes inside another record",
                        "1603030007" + "15030300020230",
                        AlertScanner.NONE,
                        false),
                Arguments.of(
                        "plaintext HTTP", "474554202f20485454502f312e310d0a15030300020230", AlertScanner.NONE, false),
                Arguments.of("nothing", "", AlertScanner.NONE, false));
    }

    @ParameterizedTest(name = "{0}, whole")
    @MethodSource("streams")
    void findsTheLastAlertInOneBuffer(String what, String hex, int alert, boolean fatal) {
        AlertScanner scanner = new AlertScanner();
        scanner.scan(Unpooled.wrappedBuffer(HexFormat.of().parseHex(hex)));
        assertThat(scanner.lastAlert()).isEqualTo(alert);
        assertThat(scanner.lastAlertFatal()).isEqualTo(fatal);
    }

    @ParameterizedTest(name = "{0}, split everywhere")
    @MethodSource("streams")
    void findsTheSameAlertWhereverTheStreamIsSplit(String what, String hex, int alert, boolean fatal) {
        byte[] bytes = HexFormat.of().parseHex(hex);
        for (int split = 0; split <= bytes.length; split++) {
            for (int second = split; second <= bytes.length; second++) {
                AlertScanner scanner = new AlertScanner();
                scanner.scan(slice(bytes, 0, split));
                scanner.scan(slice(bytes, split, second));
                scanner.scan(slice(bytes, second, bytes.length));
                assertThat(scanner.lastAlert())
                        .as("split at %d and %d", split, second)
                        .isEqualTo(alert);
            }
        }
    }

    @ParameterizedTest(name = "{0}, byte by byte")
    @MethodSource("streams")
    void leavesTheBuffersUntouched(String what, String hex, int alert, boolean fatal) {
        byte[] bytes = HexFormat.of().parseHex(hex);
        ByteArrayOutputStream seen = new ByteArrayOutputStream();
        AlertScanner scanner = new AlertScanner();
        for (byte b : bytes) {
            ByteBuf one = Unpooled.wrappedBuffer(new byte[] {b});
            scanner.scan(one);
            seen.write(one.readByte());
        }
        assertThat(seen.toByteArray()).isEqualTo(bytes);
        assertThat(scanner.lastAlert()).isEqualTo(alert);
    }

    private static ByteBuf slice(byte[] bytes, int from, int to) {
        ByteBuf buf = Unpooled.buffer();
        buf.writeBytes(new byte[] {9, 9}); // a reader index that is not 0
        buf.readerIndex(2);
        buf.writeBytes(bytes, from, to - from);
        return buf;
    }
}
