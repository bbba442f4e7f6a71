package dev.onionrelay.relay;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.onionrelay.support.Layers;
import dev.onionrelay.support.NettyEcho;
import dev.onionrelay.support.Onions;
import dev.onionrelay.support.Scenario;
import java.lang.management.ManagementFactory;
import java.net.InetAddress;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import org.junit.jupiter.api.Test;

/**
 * Tunnels abandoned during set-up leave nothing behind: every timer a tunnel schedules is cancelled when it closes, so
 * the heap after GC is back where it was within seconds of the last close, not after the 30 s set-up deadline that
 * used to keep each tunnel (channels, stacks, TLS engines) reachable until it fired.
 */
@Scenario
class AbandonedSetUpHeapTest {

    static final int TUNNELS = 20_000;
    static final int WAVE = 500;
    static final long SLACK = 5L * 1024 * 1024;

    @Test
    void twentyThousandAbandonedSetUpsLeaveTheHeapWhereItWasWithinFiveSeconds() throws Exception {
        byte[] halfHello = Arrays.copyOf(clientHello(), clientHello().length / 2);
        try (Onions onions = new Onions(OnionEngine.Settings.DEFAULTS);
                NettyEcho echo = new NettyEcho()) {
            onions.pki.ca("ca");
            onions.pki.leaf("hop", "ca");
            Relay hop = onions.relay("hop", echo.port(), List.of(Layers.server("L0", "hop")), List.of());
            abandon(hop, 2_000, halfHello); // warm-up: pools and caches filled before the baseline
            long baseline = heapAfterGc();
            long started = System.nanoTime();
            abandon(hop, TUNNELS, halfHello);
            long lastClose = System.nanoTime();
            await().atMost(Duration.ofSeconds(30)).until(() -> hop.tunnels().isEmpty());
            long heap = heapAfterGc();
            while (heap > baseline + SLACK
                    && System.nanoTime() - lastClose < Duration.ofSeconds(5).toNanos()) {
                Thread.sleep(200);
                heap = heapAfterGc();
            }
            System.out.printf(
                    "%d abandoned set-ups in %d ms; heap after GC: %.1f MB before, %.1f MB %d ms after the last close%n",
                    TUNNELS,
                    (lastClose - started) / 1_000_000,
                    baseline / 1048576.0,
                    heap / 1048576.0,
                    (System.nanoTime() - lastClose) / 1_000_000);
            assertThat(heap).as("heap after GC, bytes").isLessThanOrEqualTo(baseline + SLACK);
            assertThat(hop.stats().pendingTunnels()).isZero();
            assertThat(onions.engine.openTunnels()).isZero();
        }
    }

    /** Half the connections close without a byte, half after half a ClientHello; in waves, for file descriptors. */
    private static void abandon(Relay relay, int count, byte[] halfHello) throws Exception {
        for (int done = 0; done < count; done += WAVE) {
            List<Socket> wave = new ArrayList<>(WAVE);
            for (int i = 0; i < WAVE; i++) {
                Socket socket = new Socket(InetAddress.getLoopbackAddress(), Onions.port(relay));
                if (i % 2 == 1) {
                    socket.getOutputStream().write(halfHello);
                }
                wave.add(socket);
            }
            long before = relay.stats().totalTunnels();
            for (Socket socket : wave) {
                socket.close();
            }
            // Accepted before the next wave, so that the relay sees every one of them set up and abandoned.
            await().atMost(Duration.ofSeconds(30))
                    .until(() -> relay.stats().totalTunnels() >= before
                            && relay.tunnels().size() < WAVE);
        }
    }

    private static byte[] clientHello() throws Exception {
        SSLEngine engine = SSLContext.getDefault().createSSLEngine("localhost", 443);
        engine.setUseClientMode(true);
        ByteBuffer out = ByteBuffer.allocate(engine.getSession().getPacketBufferSize());
        engine.wrap(ByteBuffer.allocate(0), out);
        out.flip();
        byte[] hello = new byte[out.remaining()];
        out.get(hello);
        return hello;
    }

    private static long heapAfterGc() {
        for (int i = 0; i < 2; i++) {
            System.gc();
        }
        return ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
    }
}
