package dev.onionrelay.security;

import static org.assertj.core.api.Assertions.assertThat;

import dev.onionrelay.relay.Relay;
import dev.onionrelay.support.EchoServer;
import dev.onionrelay.support.Layers;
import dev.onionrelay.support.Onions;
import dev.onionrelay.support.Scenario;
import dev.onionrelay.support.Traffic;
import java.net.InetAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * 500 clients that connect and never speak do not starve a real client, and the first-byte timeout (here the layer's
 * half the shorter handshake timeout) closes them all, counted as rejected tunnels, not as handshake failures.
 */
@Scenario
class FloodTest {

    static final int SILENT = 500;
    static final Duration HANDSHAKE_TIMEOUT = Duration.ofSeconds(3);

    @Test
    void silentConnectionsDoNotStarveARealClientAndAreAllClosedByTheFirstByteTimeout() throws Exception {
        try (Onions onions = new Onions();
                EchoServer echo = new EchoServer()) {
            onions.pki.ca("ca");
            onions.pki.leaf("hop", "ca");
            Relay hop = onions.relay(
                    "hop",
                    echo.port(),
                    List.of(Layers.withTimeout(Layers.server("L0", "hop"), HANDSHAKE_TIMEOUT)),
                    List.of());
            Relay entry =
                    onions.relay("entry", Onions.port(hop), List.of(), List.of(Layers.client("L0", "ca", "localhost")));

            List<Socket> silent = new ArrayList<>();
            try {
                long started = System.nanoTime();
                for (int i = 0; i < SILENT; i++) {
                    Socket socket = new Socket(InetAddress.getLoopbackAddress(), Onions.port(hop));
                    socket.setSoTimeout(15_000);
                    silent.add(socket);
                }
                // The real client's handshake and echo complete well within its own timeout.
                Traffic.Echo echoed = CompletableFuture.supplyAsync(() -> {
                            try {
                                return Traffic.echo(Onions.port(entry), 64 * 1024);
                            } catch (Exception e) {
                                throw new IllegalStateException(e);
                            }
                        })
                        .get(HANDSHAKE_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
                assertThat(echoed.intact()).isTrue();
                System.out.printf(
                        "flood: real client done %d ms after %d silent connections opened%n",
                        (System.nanoTime() - started) / 1_000_000, SILENT);

                int closed = 0;
                for (Socket socket : silent) {
                    try {
                        if (socket.getInputStream().read() == -1) {
                            closed++;
                        }
                    } catch (SocketTimeoutException stillOpen) {
                        // counted as not closed
                    } catch (java.io.IOException reset) {
                        closed++;
                    }
                }
                assertThat(closed)
                        .as("silent connections closed by the first-byte timeout")
                        .isEqualTo(SILENT);
                assertThat(hop.stats().rejectedTunnels()).isEqualTo(SILENT);
                assertThat(hop.stats().handshakeFailures()).isZero();
            } finally {
                for (Socket socket : silent) {
                    socket.close();
                }
            }
        }
    }
}
