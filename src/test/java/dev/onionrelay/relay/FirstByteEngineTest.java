package dev.onionrelay.relay;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.entry;
import static org.awaitility.Awaitility.await;

import dev.onionrelay.layer.Side;
import dev.onionrelay.support.EchoServer;
import dev.onionrelay.support.Layers;
import dev.onionrelay.support.Onions;
import dev.onionrelay.support.Scenario;
import dev.onionrelay.support.Traffic;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.Socket;
import java.net.SocketException;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Accepting a connection costs close to nothing (issue 22): on a relay with ingress layers the TLS engine of the
 * outermost layer is made only at the client's first byte, and a first byte that cannot start a TLS handshake (a
 * record type other than handshake, 0x16) closes the connection without an engine ever being made, counted as the
 * {@code not_tls} failure of that layer. A real client is not affected.
 */
@Scenario
class FirstByteEngineTest {

    static final Duration PATIENCE = Duration.ofSeconds(5);
    /** A fatal handshake_failure alert record: TLS, but not what a client may open with. */
    static final byte[] ALERT_FIRST = {0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28};

    Onions onions;
    EchoServer echo;
    Relay hop;
    Relay entry;

    @BeforeEach
    void start() throws Exception {
        onions = new Onions();
        echo = new EchoServer();
        onions.pki.ca("ca");
        onions.pki.leaf("hop", "ca");
        hop = onions.relay("hop", echo.port(), List.of(Layers.server("L0", "hop")), List.of());
        entry = onions.relay("entry", Onions.port(hop), List.of(), List.of(Layers.client("L0", "ca", "localhost")));
    }

    @AfterEach
    void stop() throws Exception {
        onions.close();
        echo.close();
    }

    @Test
    void aConnectionThatHasNotSentAByteHasNoTlsEngineYet() throws Exception {
        try (Socket client = new Socket(InetAddress.getLoopbackAddress(), Onions.port(hop))) {
            await().atMost(PATIENCE).until(() -> hop.tunnels().size() == 1);
            Tunnel tunnel = hop.tunnels().get(0);
            // Listed as before (a tunnel still handshaking), but nothing on its ingress stack.
            assertThat(tunnel.state()).isEqualTo(TunnelState.HANDSHAKING);
            Thread.sleep(200);
            assertThat(tunnel.stack(Side.INGRESS).depth())
                    .as("layers on a silent connection")
                    .isZero();

            // The first byte of a ClientHello record: now the outermost layer's engine is made and waits for the rest.
            client.getOutputStream().write(new byte[] {0x16, 0x03, 0x01});
            await().atMost(PATIENCE).until(() -> tunnel.stack(Side.INGRESS).depth() == 1);
        }
        await().atMost(PATIENCE).until(() -> hop.tunnels().isEmpty());
        assertThat(hop.stats().failuresByReason()).containsExactly(entry("peer_closed", 1L));
    }

    @Test
    void aFirstRecordThatIsNotAHandshakeIsRefusedAsNotTlsWithoutAnEngine() throws Exception {
        // An engine given this alert would report the alert it received (handshake_failure); refused before any engine,
        // it is not TLS a client may open with.
        assertThat(refused(ALERT_FIRST)).as("what the client got back").isEmpty();
        assertThat(refused("GET / HTTP/1.1\r\n\r\n".getBytes())).isEmpty();
        await().atMost(PATIENCE)
                .untilAsserted(() -> assertThat(hop.stats().failuresByReason()).containsExactly(entry("not_tls", 2L)));
        assertThat(hop.stats().failuresByLayer()).containsExactly(entry("ingress/L0", 2L));
        assertThat(hop.stats().lastFailure().peer()).startsWith("127.0.0.1:");
        assertThat(hop.stats().rejectedTunnels())
                .as("counted as handshake failures only")
                .isZero();
        await().atMost(PATIENCE)
                .until(() -> hop.tunnels().isEmpty() && hop.stats().pendingTunnels() == 0);

        // A real client on the same relay: its ClientHello starts the handshake as always.
        assertThat(Traffic.echo(Onions.port(entry), 64 * 1024).intact()).isTrue();
        assertThat(hop.stats().handshakesSucceeded()).isEqualTo(1);
    }

    /** Sends {@code first} and reads until the relay closes the connection; what came back. */
    private byte[] refused(byte[] first) throws IOException {
        try (Socket client = new Socket(InetAddress.getLoopbackAddress(), Onions.port(hop))) {
            client.setSoTimeout((int) PATIENCE.toMillis());
            client.getOutputStream().write(first);
            ByteArrayOutputStream received = new ByteArrayOutputStream();
            InputStream in = client.getInputStream();
            byte[] buffer = new byte[1024];
            try {
                int n;
                while ((n = in.read(buffer)) >= 0) {
                    received.write(buffer, 0, n);
                }
            } catch (SocketException reset) {
                // a reset is a close too
            }
            return received.toByteArray();
        }
    }
}
