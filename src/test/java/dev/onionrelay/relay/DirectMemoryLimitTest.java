package dev.onionrelay.relay;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.onionrelay.support.EchoServer;
import dev.onionrelay.support.Onions;
import dev.onionrelay.support.Scenario;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import java.io.IOException;
import java.net.InetAddress;
import java.net.Socket;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The process-wide direct memory cap ({@code onion.limits.max-direct-memory}): at the cap a new connection is closed
 * at accept, before it costs a handshake or a target connection, and the refusal is counted under its reason and dated
 * for the health warning; below it, the same relay serves as usual.
 */
@Scenario
class DirectMemoryLimitTest {

    @Test
    void atTheCapANewConnectionIsClosedAtAcceptAndTheRefusalIsCounted() throws Exception {
        // Direct memory in use for the whole test, so that the allocator's figure is at least one chunk.
        ByteBuf held = ByteBufAllocator.DEFAULT.directBuffer(64 * 1024);
        try (EchoServer echo = new EchoServer();
                Onions full = new Onions(withDirectMemoryLimit(1));
                Onions roomy = new Onions(withDirectMemoryLimit(DirectMemoryLimit.used() + (256L << 20)))) {
            assertThat(DirectMemoryLimit.used()).isPositive();
            Relay capped = full.relay("capped", echo.port(), List.of(), List.of());
            Relay open = roomy.relay("open", echo.port(), List.of(), List.of());

            assertThat(echoes(Onions.port(capped)))
                    .as("an echo through the relay at its cap")
                    .isFalse();
            await().atMost(Duration.ofSeconds(10))
                    .untilAsserted(
                            () -> assertThat(capped.stats().rejectedTunnels()).isEqualTo(1));
            assertThat(full.engine.directMemory().refusals()).isEqualTo(1);
            assertThat(full.engine.directMemory().lastRefusal()).isNotNull();
            assertThat(capped.stats().totalTunnels()).as("no tunnel set up").isZero();
            assertThat(echo.connections()).as("no connection to the target").isZero();

            assertThat(echoes(Onions.port(open))).as("an echo below the cap").isTrue();
            assertThat(roomy.engine.directMemory().refusals()).isZero();
        } finally {
            held.release();
        }
    }

    private static OnionEngine.Settings withDirectMemoryLimit(long bytes) {
        AdmissionLimits defaults = AdmissionLimits.DEFAULTS;
        return OnionEngine.Settings.DEFAULTS.withAdmission(new AdmissionLimits(
                defaults.maxPendingPerRelay(), defaults.maxPendingPerClient(), defaults.firstByteTimeout(), bytes));
    }

    /** Whether one byte sent through the relay comes back. */
    private static boolean echoes(int port) throws IOException {
        try (Socket socket = new Socket(InetAddress.getLoopbackAddress(), port)) {
            socket.setSoTimeout(5000);
            try {
                socket.getOutputStream().write('x');
                return socket.getInputStream().read() == 'x';
            } catch (IOException closed) {
                return false;
            }
        }
    }
}
