package dev.onionrelay.relay;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.onionrelay.support.EchoServer;
import dev.onionrelay.support.Layers;
import dev.onionrelay.support.LocalServers;
import dev.onionrelay.support.Onions;
import dev.onionrelay.support.Scenario;
import java.io.IOException;
import java.net.InetAddress;
import java.net.Socket;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Every way a tunnel ends gives back its places (the relay's and the engine's) and its listing. Descriptor exhaustion
 * is in {@code DescriptorExhaustionTest} (it needs a process with few descriptors) and a constructor that throws in
 * {@link AdmissionTest}.
 */
@Scenario
class TunnelEndingTest {

    private static void assertNothingLeft(Onions onions, Relay relay) {
        await().atMost(Duration.ofSeconds(15)).untilAsserted(() -> {
            assertThat(relay.tunnels()).isEmpty();
            assertThat(relay.stats().activeTunnels()).isZero();
            assertThat(relay.stats().pendingTunnels()).isZero();
            assertThat(onions.engine.openTunnels()).isZero();
        });
    }

    /** A client that sends a byte and waits for the relay to end its connection. */
    private static void sendAndWaitForTheEnd(Relay relay, byte[] bytes) throws IOException {
        try (Socket socket = new Socket(InetAddress.getLoopbackAddress(), Onions.port(relay))) {
            socket.setSoTimeout(15_000);
            socket.getOutputStream().write(bytes);
            try {
                while (socket.getInputStream().read() != -1) {
                    // the relay's answer, if any, until it closes
                }
            } catch (IOException reset) {
                // ended with a reset: ended all the same
            }
        }
    }

    @Test
    void aTargetThatRefusesTheConnect() throws Exception {
        try (Onions onions = new Onions()) {
            Relay relay = onions.relay("refused", LocalServers.freePort(), List.of(), List.of());
            sendAndWaitForTheEnd(relay, new byte[] {'x'});
            assertNothingLeft(onions, relay);
            assertThat(relay.stats().connectFailures()).isEqualTo(1);
        }
    }

    @Test
    void anEgressHandshakeThatFails() throws Exception {
        try (Onions onions = new Onions();
                EchoServer plain = new EchoServer()) {
            onions.pki.ca("ca");
            Relay relay =
                    onions.relay("egress-fails", plain.port(), List.of(), List.of(Layers.client("L0", "ca", "x")));
            sendAndWaitForTheEnd(relay, new byte[] {'x'});
            assertNothingLeft(onions, relay);
            assertThat(relay.stats().handshakeFailures()).isEqualTo(1);
        }
    }

    @Test
    void anIngressHandshakeThatFails() throws Exception {
        try (Onions onions = new Onions();
                EchoServer echo = new EchoServer()) {
            onions.pki.ca("ca");
            onions.pki.leaf("hop", "ca");
            Relay relay = onions.relay("ingress-fails", echo.port(), List.of(Layers.server("L0", "hop")), List.of());
            sendAndWaitForTheEnd(relay, "GET / HTTP/1.1\r\n\r\n".getBytes());
            assertNothingLeft(onions, relay);
            assertThat(relay.stats().handshakeFailures()).isEqualTo(1);
        }
    }

    @Test
    void anOpenTunnelClosedTwiceAsTwoDeletesWould() throws Exception {
        try (Onions onions = new Onions();
                EchoServer echo = new EchoServer()) {
            Relay relay = onions.relay("deleted", echo.port(), List.of(), List.of());
            try (Socket socket = new Socket(InetAddress.getLoopbackAddress(), Onions.port(relay))) {
                socket.setSoTimeout(5000);
                socket.getOutputStream().write('x');
                assertThat(socket.getInputStream().read()).isEqualTo('x');
                Tunnel tunnel = relay.tunnels().get(0);
                assertThat(relay.stats().activeTunnels()).isEqualTo(1);
                tunnel.close();
                tunnel.close();
                assertNothingLeft(onions, relay);
                assertThat(tunnel.state()).isEqualTo(TunnelState.CLOSED);
            }
        }
    }
}
