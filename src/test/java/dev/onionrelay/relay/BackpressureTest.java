package dev.onionrelay.relay;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.onionrelay.support.Layers;
import dev.onionrelay.support.Onions;
import dev.onionrelay.support.Scenario;
import io.netty.channel.Channel;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/**
 * Backpressure: a target that stops reading stops the relay reading from the client, so what a tunnel holds in memory is
 * bounded by its write-buffer marks however much the client pushes.
 */
@Scenario
class BackpressureTest {

    static final long PUSHED = 256L << 20;

    @Test
    void aTargetThatNeverReadsStopsTheClientAndTheTunnelBuffersAtMostItsHighWaterMark() throws Exception {
        try (Onions onions = new Onions();
                ServerSocket silentTarget = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            onions.pki.ca("ca");
            onions.pki.leaf("hop", "ca");
            CompletableFuture<Socket> accepted = CompletableFuture.supplyAsync(() -> {
                try {
                    return silentTarget.accept();
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            });
            Relay exit =
                    onions.relay("exit", silentTarget.getLocalPort(), List.of(Layers.server("L0", "hop")), List.of());
            Relay entry = onions.relay(
                    "entry", Onions.port(exit), List.of(), List.of(Layers.client("L0", "ca", "localhost")));

            AtomicLong written = new AtomicLong();
            Thread pusher;
            try (Socket client = new Socket(InetAddress.getLoopbackAddress(), Onions.port(entry));
                    Socket target = accepted.get(20, TimeUnit.SECONDS)) {
                pusher = new Thread(() -> {
                    byte[] chunk = new byte[64 * 1024];
                    try {
                        OutputStream out = client.getOutputStream();
                        while (written.get() < PUSHED) {
                            out.write(chunk);
                            written.addAndGet(chunk.length);
                        }
                    } catch (Exception closed) {
                        // The test closes the socket under the blocked write.
                    }
                });
                pusher.start();
                // Both relays stop reading their client side: the exit because the target does not read, the entry
                // because the exit no longer reads from it.
                await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> {
                    for (Relay relay : List.of(entry, exit)) {
                        assertThat(relay.tunnels()).hasSize(1);
                        assertThat(relay.tunnels()
                                        .get(0)
                                        .ingressChannel()
                                        .config()
                                        .isAutoRead())
                                .as(relay.spec().name() + " reads its client side")
                                .isFalse();
                    }
                });
                long stalledAt = awaitStall(written);

                // The kernel's socket buffers on the way hold some megabytes; the relays hold only their marks.
                assertThat(stalledAt).isLessThan(PUSHED / 4);
                for (Relay relay : List.of(entry, exit)) {
                    Tunnel tunnel = relay.tunnels().get(0);
                    Channel ingress = tunnel.ingressChannel();
                    Channel egress = tunnel.egressChannel();
                    assertThat(egress).isNotNull();
                    assertThat(egress.config().getWriteBufferHighWaterMark())
                            .isEqualTo(ingress.config().getWriteBufferHighWaterMark())
                            .isEqualTo(OnionEngine.WATER_MARK.high());
                    assertThat(List.of(
                                    ingress.config().getRecvByteBufAllocator(),
                                    egress.config().getRecvByteBufAllocator()))
                            .as("reads sized to the room left on the other side, on both sides")
                            .allMatch(TunnelReads.class::isInstance);
                    long pending = egress.eventLoop()
                            .submit(() -> egress.unsafe().outboundBuffer().totalPendingWriteBytes())
                            .get();
                    // A read takes at most the room left under the high mark, or the smallest read when there is none
                    // (plus its records' framing): before reads sized so, one whole read of up to 256 KiB went beyond.
                    assertThat(pending)
                            .isLessThanOrEqualTo(OnionEngine.WATER_MARK.high() + TunnelReads.MIN_READ + 1024);
                    assertThat(ingress.config().isAutoRead()).isFalse();
                }
                assertThat(target.isConnected()).isTrue();
            }
            pusher.join(10_000);
        }
    }

    /** Waits until the client's writes stop making progress, and returns how much got written. */
    private static long awaitStall(AtomicLong written) throws InterruptedException {
        long last = -1;
        int quiet = 0;
        while (quiet < 10) {
            Thread.sleep(100);
            long now = written.get();
            quiet = now == last ? quiet + 1 : 0;
            last = now;
            assertThat(now)
                    .as("the client pushed everything: nothing held it back")
                    .isLessThan(PUSHED);
        }
        return last;
    }
}
