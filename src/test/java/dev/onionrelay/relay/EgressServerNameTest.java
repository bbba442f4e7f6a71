package dev.onionrelay.relay;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.onionrelay.layer.TlsProvider;
import dev.onionrelay.support.EchoServer;
import dev.onionrelay.support.Layers;
import dev.onionrelay.support.Onions;
import dev.onionrelay.support.RecordingProxy;
import dev.onionrelay.support.Scenario;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * An egress layer's {@code serverName} goes on the wire as SNI whenever it is a host name, dotted or single-label
 * ({@code localhost}, a Kubernetes short service name), and never when it is an IP literal; the server's certificate
 * is still checked against it. The name is read from the ClientHello a recording proxy saw between two relays.
 */
@Scenario
class EgressServerNameTest {

    /** One case: the configured serverName, the SNI expected on the wire (null: none), whether the check passes. */
    static Stream<Arguments> cases() {
        List<Object[]> names = List.of(
                new Object[] {"hop1.onion.test", "hop1.onion.test", true},
                new Object[] {"localhost", "localhost", true},
                new Object[] {"hop1", "hop1", true},
                new Object[] {"127.0.0.1", null, true},
                new Object[] {"::1", null, true},
                new Object[] {"elsewhere", "elsewhere", false},
                new Object[] {"elsewhere.onion.test", "elsewhere.onion.test", false});
        return Stream.of(TlsProvider.JDK, TlsProvider.OPENSSL)
                .flatMap(provider -> names.stream().map(n -> Arguments.of(n[0], n[1], n[2], provider)));
    }

    Onions onions;
    EchoServer target;
    RecordingProxy wire;

    @AfterEach
    void tearDown() throws Exception {
        if (wire != null) {
            wire.close();
        }
        if (onions != null) {
            onions.close();
        }
        if (target != null) {
            target.close();
        }
    }

    @ParameterizedTest(name = "{0} on {3}")
    @MethodSource("cases")
    void serverNameIsSentAsSniUnlessItIsAnAddressAndIsStillVerified(
            String serverName, String expectedSni, boolean matchesCertificate, TlsProvider provider) throws Exception {
        onions = new Onions(provider, RelayObserver.NONE);
        onions.pki.ca("ca");
        onions.pki.leaf("hop", "ca", List.of("hop1.onion.test", "localhost", "hop1"), List.of("127.0.0.1", "::1"));
        target = new EchoServer();
        Relay exit = onions.relay("exit", target.port(), List.of(Layers.server("hop", "hop")), List.of());
        wire = new RecordingProxy(Onions.port(exit));
        Relay entry = onions.relay("entry", wire.port(), List.of(), List.of(Layers.client("hop", "ca", serverName)));

        try (Socket client = new Socket(InetAddress.getLoopbackAddress(), Onions.port(entry))) {
            client.setSoTimeout(10_000);
            client.getOutputStream().write("ping".getBytes(StandardCharsets.US_ASCII));
            if (matchesCertificate) {
                assertThat(readFully(client.getInputStream(), 4)).isEqualTo("ping");
            } else {
                await().atMost(Duration.ofSeconds(10))
                        .untilAsserted(() -> assertThat(entry.stats().handshakeFailures())
                                .as("the certificate does not name '%s'", serverName)
                                .isEqualTo(1));
                assertThat(target.connections())
                        .as("nothing reached the target")
                        .isZero();
            }
        }

        assertThat(sniOfFirstClientHello(wire.upstream())).isEqualTo(Optional.ofNullable(expectedSni));
    }

    private static String readFully(InputStream in, int length) throws Exception {
        byte[] bytes = in.readNBytes(length);
        return new String(bytes, StandardCharsets.US_ASCII);
    }

    /** The host_name in the server_name extension of the ClientHello at the start of {@code wire}, if any. */
    static Optional<String> sniOfFirstClientHello(byte[] wire) {
        // The handshake message may span several records: join the payloads of the leading handshake records.
        ByteBuffer records = ByteBuffer.wrap(wire);
        ByteBuffer handshake = ByteBuffer.allocate(wire.length);
        while (records.remaining() >= 5 && records.get(records.position()) == 22) {
            records.position(records.position() + 3);
            int length = records.getShort() & 0xffff;
            byte[] payload = new byte[Math.min(length, records.remaining())];
            records.get(payload);
            handshake.put(payload);
        }
        handshake.flip();
        assertThat(handshake.get()).as("a ClientHello").isEqualTo((byte) 1);
        handshake.position(handshake.position() + 3 + 2 + 32); // length, legacy version, random
        skip(handshake, handshake.get() & 0xff); // session id
        skip(handshake, handshake.getShort() & 0xffff); // cipher suites
        skip(handshake, handshake.get() & 0xff); // compression methods
        int extensionsEnd = (handshake.getShort() & 0xffff) + handshake.position();
        while (handshake.position() < extensionsEnd) {
            int type = handshake.getShort() & 0xffff;
            int length = handshake.getShort() & 0xffff;
            if (type != 0) {
                skip(handshake, length);
                continue;
            }
            handshake.getShort(); // server name list length
            assertThat(handshake.get()).as("name type host_name").isZero();
            byte[] name = new byte[handshake.getShort() & 0xffff];
            handshake.get(name);
            return Optional.of(new String(name, StandardCharsets.US_ASCII));
        }
        return Optional.empty();
    }

    private static void skip(ByteBuffer buffer, int bytes) {
        buffer.position(buffer.position() + bytes);
    }
}
