package dev.onionrelay.shaping;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.onionrelay.layer.LayerSpec;
import dev.onionrelay.layer.LayerStatus;
import dev.onionrelay.layer.Side;
import dev.onionrelay.layer.TlsProvider;
import dev.onionrelay.layer.shaping.ShapingHandler;
import dev.onionrelay.relay.Relay;
import dev.onionrelay.relay.RelayObserver;
import dev.onionrelay.relay.Tunnel;
import dev.onionrelay.support.EchoServer;
import dev.onionrelay.support.Layers;
import dev.onionrelay.support.Onions;
import dev.onionrelay.support.Scenario;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.Socket;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Issue 27, acceptance 4: every byte intact through shaped layers. An entry relay wraps two egress layers with
 * {@code padding: "on"}, an exit relay peels them in front of an echo target; 64 MiB of random bytes go through and
 * come back. At a third of the echo the entry pops its inner shaped layer while both directions stream (the exit
 * answers the pop), then the client ends its direction (half-close) and reads the echo to its end. What came back is
 * what was sent (SHA-256), and both ends show the layers as shaped with padding counted.
 */
@Scenario
class ShapedEchoTest {

    static final long BYTES = 64L * 1024 * 1024;

    final List<String> pops = new CopyOnWriteArrayList<>();
    final Map<String, Long> paddingEvents = new ConcurrentHashMap<>();
    final Map<String, Long> framesAfterPop = new ConcurrentHashMap<>();
    Onions onions;
    EchoServer target;

    @AfterEach
    void tearDown() throws Exception {
        if (onions != null) {
            onions.close();
        }
        if (target != null) {
            target.close();
        }
    }

    static LayerSpec shaped(LayerSpec spec) {
        return spec.withPadding(true);
    }

    @ParameterizedTest
    @EnumSource(TlsProvider.class)
    void everyByteArrivesThroughShapedLayersAcrossAPopUnderLoadAndAHalfClose(TlsProvider provider) throws Exception {
        onions = new Onions(provider, new RelayObserver() {
            @Override
            public void layerPopped(Relay relay, Side side, dev.onionrelay.layer.Initiator initiator) {
                pops.add(relay.spec().name() + "/" + initiator.label());
                // Right after the removal, on the event loop: what is left inside the popped layer's place.
                framesAfterPop.put(
                        relay.spec().name(),
                        relay.tunnels().get(0).stack(side).channel().pipeline().toMap().values().stream()
                                .filter(handler -> handler instanceof ShapingHandler)
                                .count());
            }

            @Override
            public void paddingSent(Relay relay, Side side, long bytes) {
                paddingEvents.merge(relay.spec().name() + " " + side.label(), bytes, Long::sum);
            }
        });
        onions.pki.ca("ca");
        onions.pki.leaf("hop", "ca");
        target = new EchoServer();
        Relay exit = onions.relay(
                "exit",
                target.port(),
                List.of(shaped(Layers.server("outer", "hop")), shaped(Layers.server("inner", "hop"))),
                List.of(),
                Onions.options(1, 0));
        Relay entry = onions.relay(
                "entry",
                Onions.port(exit),
                List.of(),
                List.of(
                        shaped(Layers.client("outer", "ca", "localhost")),
                        shaped(Layers.client("inner", "ca", "localhost"))),
                Onions.options(0, 1));
        AtomicReference<List<LayerStatus>> shapedStatus = new AtomicReference<>();
        AtomicReference<Throwable> popFailure = new AtomicReference<>();

        String[] digests = echoWithHalfClose(Onions.port(entry), BYTES, BYTES / 3, () -> {
            Tunnel tunnel = entry.tunnels().get(0);
            shapedStatus.set(tunnel.stack(Side.EGRESS).status());
            tunnel.popLocal(Side.EGRESS).addListener(f -> popFailure.set(f.cause()));
        });

        assertThat(popFailure.get()).as("the pop was accepted").isNull();
        assertThat(digests[1]).as("what came back is what was sent").isEqualTo(digests[0]);
        assertThat(shapedStatus.get())
                .as("both layers shaped, padding exchanged on each")
                .allSatisfy(layer -> {
                    assertThat(layer.padding()).isEqualTo("on");
                    assertThat(layer.paddingBytesSent() + layer.paddingBytesReceived())
                            .isPositive();
                });
        await().atMost(Duration.ofSeconds(10))
                .untilAsserted(() -> assertThat(pops).containsExactlyInAnyOrder("entry/local", "exit/peer"));
        assertThat(framesAfterPop)
                .as("the popped layer's frame handler left with it: one shaped layer left, one frame handler, each end")
                .containsExactlyInAnyOrderEntriesOf(Map.of("entry", 1L, "exit", 1L));
        assertThat(paddingEvents)
                .as("padding told to the observer (onion_shaping_padding_bytes_total)")
                .containsOnlyKeys("entry egress", "exit ingress")
                .allSatisfy((where, bytes) -> assertThat(bytes).isPositive());
        assertThat(entry.stats().handshakeFailures() + exit.stats().handshakeFailures())
                .isZero();
    }

    /**
     * Sends {@code bytes} random bytes, ends the direction (shutdownOutput) and reads the echo to its end, running
     * {@code midway} once {@code midwayAt} bytes came back; returns the SHA-256 of what was sent and of what came back.
     */
    static String[] echoWithHalfClose(int port, long bytes, long midwayAt, Runnable midway) throws Exception {
        try (Socket socket = new Socket(InetAddress.getLoopbackAddress(), port)) {
            socket.setSoTimeout(20_000);
            MessageDigest sent = MessageDigest.getInstance("SHA-256");
            CompletableFuture<Void> writer = CompletableFuture.runAsync(() -> {
                try {
                    OutputStream out = socket.getOutputStream();
                    Random random = new Random(bytes);
                    byte[] chunk = new byte[32 * 1024];
                    for (long left = bytes; left > 0; ) {
                        int n = (int) Math.min(chunk.length, left);
                        random.nextBytes(chunk);
                        sent.update(chunk, 0, n);
                        out.write(chunk, 0, n);
                        left -= n;
                    }
                    socket.shutdownOutput();
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            });
            MessageDigest received = MessageDigest.getInstance("SHA-256");
            InputStream in = socket.getInputStream();
            byte[] buffer = new byte[64 * 1024];
            long total = 0;
            boolean midwayDone = false;
            for (int n; (n = in.read(buffer)) > 0; ) {
                received.update(buffer, 0, n);
                total += n;
                if (!midwayDone && total >= midwayAt) {
                    midwayDone = true;
                    midway.run();
                }
            }
            writer.get();
            assertThat(total).as("bytes back before the end of the stream").isEqualTo(bytes);
            return new String[] {
                HexFormat.of().formatHex(sent.digest()), HexFormat.of().formatHex(received.digest())
            };
        }
    }
}
