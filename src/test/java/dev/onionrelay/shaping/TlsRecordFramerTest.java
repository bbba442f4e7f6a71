package dev.onionrelay.shaping;

import static org.assertj.core.api.Assertions.assertThat;

import dev.onionrelay.support.TlsRecordFramer;
import java.io.ByteArrayOutputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The tap's record framing, fed the same stream cut at random points, as TCP may deliver it. */
class TlsRecordFramerTest {

    record Expected(int contentType, int wireLength) {}

    @Test
    void recordsAreFoundWhateverTheSegmentBoundaries() {
        Random random = new Random(27);
        ByteArrayOutputStream stream = new ByteArrayOutputStream();
        List<Expected> expected = new ArrayList<>();
        for (int i = 0; i < 200; i++) {
            int type = 20 + random.nextInt(5);
            // Empty, tiny and maximal records: a header alone, and payloads spanning many segments.
            int payload =
                    switch (i % 4) {
                        case 0 -> 0;
                        case 1 -> random.nextInt(8);
                        case 2 -> 16_384 + 256;
                        default -> random.nextInt(3000);
                    };
            stream.write(type);
            stream.write(3);
            stream.write(3);
            stream.write(payload >> 8);
            stream.write(payload & 0xff);
            byte[] body = new byte[payload];
            random.nextBytes(body);
            stream.writeBytes(body);
            expected.add(new Expected(type, 5 + payload));
        }
        byte[] bytes = stream.toByteArray();

        for (int run = 0; run < 50; run++) {
            List<Expected> found = new ArrayList<>();
            TlsRecordFramer framer =
                    new TlsRecordFramer(frame -> found.add(new Expected(frame.contentType(), frame.wireLength())));
            int maxSegment = run < 10 ? run + 1 : 1 + random.nextInt(20_000);
            for (int at = 0; at < bytes.length; ) {
                int n = Math.min(bytes.length - at, 1 + random.nextInt(maxSegment));
                framer.accept(bytes, at, n, at);
                at += n;
            }
            assertThat(found).as("segments of at most %d bytes", maxSegment).isEqualTo(expected);
            assertThat(framer.broken()).isFalse();
        }
    }

    @Test
    void bytesThatAreNotTlsStopTheFraming() {
        List<TlsRecordFramer.Frame> found = new ArrayList<>();
        TlsRecordFramer framer = new TlsRecordFramer(found::add);
        byte[] http = "GET / HTTP/1.1\r\n\r\n".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
        framer.accept(http, 0, http.length, 0);
        assertThat(found).isEmpty();
        assertThat(framer.broken()).isTrue();
    }
}
