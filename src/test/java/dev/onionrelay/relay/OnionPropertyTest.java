package dev.onionrelay.relay;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.onionrelay.support.EchoServer;
import dev.onionrelay.support.Layers;
import dev.onionrelay.support.Onions;
import dev.onionrelay.support.RecordingProxy;
import dev.onionrelay.support.Scenario;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The onion property over real sockets: a hop that peels only the outer layer never sees the plaintext.
 *
 * <pre>
 * client -> entry [egress L0, L1] -> (wire A) -> hop1 [ingress L0] -> (wire B) -> hop2 [ingress L1] -> target
 * </pre>
 *
 * Wire A carries L1 inside L0; wire B carries L1 only, which is what hop1 forwards after peeling L0.
 */
@Scenario
class OnionPropertyTest {

    /** Distinctive, and long enough that ciphertext cannot contain it by chance. */
    static final byte[] MARKER = "<<ONION-PLAINTEXT-MARKER-5d1f9a3e>>".getBytes(StandardCharsets.US_ASCII);

    static final int MARKER_COUNT = 4096;

    Onions onions;
    EchoServer target;
    RecordingProxy wireA;
    RecordingProxy wireB;
    Relay entry;
    Relay hop1;
    Relay hop2;

    @BeforeEach
    void setUp() throws Exception {
        onions = new Onions();
        onions.pki.ca("ca");
        onions.pki.leaf("hop1", "ca");
        onions.pki.leaf("hop2", "ca");
        target = new EchoServer(true);
        hop2 = onions.relay("hop2", target.port(), List.of(Layers.server("L1", "hop2")), List.of());
        wireB = new RecordingProxy(Onions.port(hop2));
        hop1 = onions.relay("hop1", wireB.port(), List.of(Layers.server("L0", "hop1")), List.of());
        wireA = new RecordingProxy(Onions.port(hop1));
        entry = onions.relay(
                "entry",
                wireA.port(),
                List.of(),
                List.of(Layers.client("L0", "ca", "localhost"), Layers.client("L1", "ca", "localhost")));
    }

    @AfterEach
    void tearDown() throws Exception {
        onions.close();
        wireA.close();
        wireB.close();
        target.close();
    }

    @Test
    void hopThatPeelsOnlyTheOuterLayerNeverSeesThePlaintext() throws Exception {
        byte[] payload = payloadWithMarkers();

        byte[] echoed = roundTrip(Onions.port(entry), payload);

        assertThat(echoed).as("the payload comes back intact through both hops").isEqualTo(payload);
        await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> {
            assertThat(wireA.finishedConnections()).isEqualTo(1);
            assertThat(wireB.finishedConnections()).isEqualTo(1);
        });

        // The control: the marker is found where the plaintext is, so its absence elsewhere means something.
        assertThat(occurrences(target.received(), MARKER))
                .as("markers at the target")
                .isEqualTo(MARKER_COUNT);

        for (Wire wire : List.of(
                new Wire("entry -> hop1", wireA.upstream()),
                new Wire("hop1 -> entry", wireA.downstream()),
                new Wire("hop1 -> hop2", wireB.upstream()),
                new Wire("hop2 -> hop1", wireB.downstream()))) {
            assertThat(occurrences(wire.bytes(), MARKER))
                    .as("markers on the wire %s", wire.name())
                    .isZero();
            // Not vacuous: the whole payload crossed this wire, with at least one record header per 16 KiB.
            assertThat(wire.bytes().length).as("bytes captured %s", wire.name()).isGreaterThan(payload.length);
            List<TlsRecord> records = TlsRecord.parseAll(wire.bytes());
            assertThat(records)
                    .as("TLS records %s", wire.name())
                    .extracting(TlsRecord::type)
                    .contains(TlsRecord.APPLICATION_DATA)
                    .allMatch(type -> type >= TlsRecord.CHANGE_CIPHER_SPEC && type <= TlsRecord.APPLICATION_DATA);
        }

        // Each wire shows exactly one plaintext ClientHello: L0's on wire A (L1's travels encrypted inside L0),
        // L1's on wire B (hop1 peeled L0 and passed L1 on as opaque bytes).
        assertThat(TlsRecord.parseAll(wireA.upstream()))
                .filteredOn(TlsRecord::isClientHello)
                .hasSize(1);
        assertThat(TlsRecord.parseAll(wireB.upstream()))
                .filteredOn(TlsRecord::isClientHello)
                .hasSize(1);

        // What hop1 decrypted and forwarded is exactly the L1 ciphertext on wire B: hop1 never held L1 plaintext.
        await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> {
            assertThat(hop1.stats().bytesIn()).isEqualTo(wireB.upstream().length);
            assertThat(hop1.stats().bytesOut()).isEqualTo(wireB.downstream().length);
            assertThat(hop2.stats().bytesIn()).isEqualTo(payload.length);
        });
    }

    private static byte[] payloadWithMarkers() {
        ByteArrayOutputStream payload = new ByteArrayOutputStream();
        byte[] filler = new byte[200];
        for (int i = 0; i < MARKER_COUNT; i++) {
            // Varying filler keeps the markers at different offsets relative to record boundaries.
            Arrays.fill(filler, (byte) ('a' + i % 26));
            payload.write(filler, 0, 1 + i % filler.length);
            payload.writeBytes(MARKER);
        }
        return payload.toByteArray();
    }

    /**
     * Sends {@code payload} while reading the echo, and closes once as many bytes came back (no half-close: these
     * properties are about the bytes, half-close has tests of its own).
     */
    private static byte[] roundTrip(int port, byte[] payload) throws Exception {
        try (Socket socket = new Socket(InetAddress.getLoopbackAddress(), port)) {
            socket.setSoTimeout(10_000);
            CompletableFuture<Void> writer = CompletableFuture.runAsync(() -> {
                try {
                    OutputStream out = socket.getOutputStream();
                    out.write(payload);
                    out.flush();
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            });
            byte[] echoed = socket.getInputStream().readNBytes(payload.length);
            writer.get();
            return echoed;
        }
    }

    static int occurrences(byte[] haystack, byte[] needle) {
        int count = 0;
        outer:
        for (int i = 0; i + needle.length <= haystack.length; i++) {
            for (int j = 0; j < needle.length; j++) {
                if (haystack[i + j] != needle[j]) {
                    continue outer;
                }
            }
            count++;
        }
        return count;
    }

    record Wire(String name, byte[] bytes) {}

    /** One TLS record as seen on the wire (RFC 8446 section 5.1): only the header is interpreted. */
    record TlsRecord(int type, int version, byte[] fragment) {

        static final int CHANGE_CIPHER_SPEC = 0x14;
        static final int HANDSHAKE = 0x16;
        static final int APPLICATION_DATA = 0x17;
        static final int MAX_CIPHERTEXT = (1 << 14) + 256;

        boolean isClientHello() {
            return type == HANDSHAKE && fragment.length > 0 && fragment[0] == 0x01;
        }

        /** Parses a whole captured stream; fails unless it is nothing but well-formed record headers and bodies. */
        static List<TlsRecord> parseAll(byte[] stream) {
            List<TlsRecord> records = new ArrayList<>();
            int offset = 0;
            while (offset < stream.length) {
                assertThat(stream.length - offset)
                        .as("record header at offset %d", offset)
                        .isGreaterThanOrEqualTo(5);
                int type = stream[offset] & 0xff;
                int version = (stream[offset + 1] & 0xff) << 8 | stream[offset + 2] & 0xff;
                int length = (stream[offset + 3] & 0xff) << 8 | stream[offset + 4] & 0xff;
                assertThat(type).as("content type at offset %d", offset).isBetween(0x14, 0x17);
                assertThat(version).as("legacy version at offset %d", offset).isBetween(0x0301, 0x0303);
                assertThat(length).as("record length at offset %d", offset).isBetween(1, MAX_CIPHERTEXT);
                assertThat(stream.length - offset - 5)
                        .as("record body at offset %d", offset)
                        .isGreaterThanOrEqualTo(length);
                records.add(new TlsRecord(type, version, Arrays.copyOfRange(stream, offset + 5, offset + 5 + length)));
                offset += 5 + length;
            }
            return records;
        }
    }
}
