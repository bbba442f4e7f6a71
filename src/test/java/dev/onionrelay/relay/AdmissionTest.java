package dev.onionrelay.relay;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.onionrelay.support.Layers;
import dev.onionrelay.support.NettyEcho;
import dev.onionrelay.support.Onions;
import dev.onionrelay.support.Scenario;
import io.netty.channel.embedded.EmbeddedChannel;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;
import org.junit.jupiter.api.Test;

/**
 * Who gets a place on a relay: pending connections have a pool of their own whose oldest (silent first) member is
 * closed for a newcomer, per relay and per client address; tunnel slots are taken by compare-and-set; a tunnel that
 * cannot even be constructed gives its place back.
 */
@Scenario
class AdmissionTest {

    private static OnionEngine.Settings pending(int perRelay, int perClient) {
        return OnionEngine.Settings.DEFAULTS.withAdmission(
                new AdmissionLimits(perRelay, perClient, Duration.ofSeconds(30), 0));
    }

    private static Relay tlsHop(Onions onions, int target) throws Exception {
        onions.pki.ca("ca");
        onions.pki.leaf("hop", "ca");
        return onions.relay("hop", target, List.of(Layers.server("L0", "hop")), List.of());
    }

    private static Socket connect(Relay relay, String from) throws IOException {
        Socket socket = new Socket();
        socket.bind(new InetSocketAddress(InetAddress.getByName(from), 0));
        socket.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), Onions.port(relay)));
        socket.setSoTimeout(5000);
        return socket;
    }

    /** Whether the relay closed this connection (EOF or reset), waiting up to a few seconds. */
    private static boolean closedByRelay(Socket socket) throws IOException {
        socket.setSoTimeout(3000);
        try {
            InputStream in = socket.getInputStream();
            return in.read() == -1;
        } catch (SocketTimeoutException stillOpen) {
            return false;
        } catch (IOException reset) {
            return true;
        }
    }

    private static boolean stillOpen(Socket socket) throws IOException {
        socket.setSoTimeout(300);
        try {
            socket.getInputStream().read();
            return false;
        } catch (SocketTimeoutException open) {
            return true;
        } catch (IOException reset) {
            return false;
        }
    }

    @Test
    void whenThePendingPoolIsFullTheOldestSilentConnectionIsClosedFirst() throws Exception {
        try (Onions onions = new Onions(pending(3, 3));
                NettyEcho echo = new NettyEcho()) {
            Relay hop = tlsHop(onions, echo.port());
            Socket a = connect(hop, "127.0.0.1");
            await().until(() -> hop.stats().totalTunnels() == 1);
            Socket b = connect(hop, "127.0.0.1");
            // b starts a TLS record and stalls: it has spoken, so it is closed only after the silent ones.
            b.getOutputStream().write(new byte[] {0x16, 0x03, 0x01, 0x02, 0x00});
            await().until(() -> hop.stats().totalTunnels() == 2);
            Socket c = connect(hop, "127.0.0.1");
            await().until(() -> hop.stats().pendingTunnels() == 3);
            Socket d = connect(hop, "127.0.0.1");
            assertThat(closedByRelay(a)).as("the oldest silent connection").isTrue();
            await().until(() -> hop.stats().totalTunnels() == 4);
            Socket e = connect(hop, "127.0.0.1");
            assertThat(closedByRelay(c))
                    .as("the next oldest silent one, before b that spoke")
                    .isTrue();
            assertThat(stillOpen(b)).isTrue();
            Socket f = connect(hop, "127.0.0.1");
            assertThat(closedByRelay(d)).isTrue();
            assertThat(stillOpen(b)).isTrue();
            assertThat(hop.stats().pendingTunnels()).isEqualTo(3);
            assertThat(hop.stats().rejectedTunnels()).isEqualTo(3);
            for (Socket socket : List.of(a, b, c, d, e, f)) {
                socket.close();
            }
            await().until(() -> hop.tunnels().isEmpty() && hop.stats().pendingTunnels() == 0);
        }
    }

    @Test
    void aClientAddressFillsOnlyItsOwnShareOfThePendingPool() throws Exception {
        try (Onions onions = new Onions(pending(100, 2));
                NettyEcho echo = new NettyEcho()) {
            Relay hop = tlsHop(onions, echo.port());
            Socket other1 = connect(hop, "127.0.0.2");
            Socket other2 = connect(hop, "127.0.0.2");
            await().until(() -> hop.stats().pendingTunnels() == 2);
            List<Socket> flood = new ArrayList<>();
            for (int i = 0; i < 6; i++) {
                flood.add(connect(hop, "127.0.0.1"));
                // One at a time: connections accepted on different event loops may join the pool in either order.
                int expected = i;
                await().until(() -> hop.stats().totalTunnels() == 3 + expected);
            }
            await().until(() -> hop.stats().rejectedTunnels() == 4);
            assertThat(stillOpen(other1))
                    .as("another address keeps its pending connections")
                    .isTrue();
            assertThat(stillOpen(other2)).isTrue();
            assertThat(closedByRelay(flood.get(0)))
                    .as("the flooding address loses its oldest")
                    .isTrue();
            assertThat(stillOpen(flood.get(5))).isTrue();
            assertThat(hop.stats().pendingTunnels()).isEqualTo(4);
            other1.close();
            other2.close();
            for (Socket socket : flood) {
                socket.close();
            }
            await().until(() -> hop.tunnels().isEmpty() && hop.stats().pendingTunnels() == 0);
        }
    }

    @Test
    void aTunnelWhoseConstructorThrowsGivesItsPlaceBackAndClosesTheConnection() throws Exception {
        try (Onions onions = new Onions(pending(1, 1));
                NettyEcho echo = new NettyEcho()) {
            Relay hop = tlsHop(onions, echo.port());
            EmbeddedChannel channel = new EmbeddedChannel();
            hop.accepted(channel, (relay, definition, accepted, engine, observer, ticket) -> {
                throw new IllegalStateException("broken on purpose");
            });
            assertThat(channel.isOpen()).isFalse();
            assertThat(hop.tunnels()).isEmpty();
            assertThat(hop.stats().pendingTunnels()).isZero();
            assertThat(hop.stats().rejectedTunnels()).isEqualTo(1);
            assertThat(onions.engine.openTunnels()).isZero();
            // With a pending pool of one, a leaked place would make the next client evict nobody and be evicted.
            try (Socket client = connect(hop, "127.0.0.1")) {
                await().until(() -> hop.stats().pendingTunnels() == 1);
                assertThat(stillOpen(client)).isTrue();
                assertThat(hop.stats().rejectedTunnels()).isEqualTo(1);
            }
        }
    }

    /**
     * 10,000 clients connect at once, from 8 threads, to a relay without ingress layers (a client asks for its tunnel
     * with its first byte) whose {@code maxTunnels} is 50. Each sends one byte; those admitted get it echoed and keep
     * their connection, the others are closed. The clients holding an echoed connection, counted by the clients
     * themselves, never number more than 50, nor does the relay's count.
     */
    @Test
    void tenThousandConcurrentConnectsNeverHoldMoreThanMaxTunnels() throws Exception {
        int max = 50;
        try (Onions onions = new Onions(OnionEngine.Settings.DEFAULTS);
                NettyEcho echo = new NettyEcho()) {
            RelayOptions options =
                    new RelayOptions(max, Duration.ofSeconds(10), Duration.ofSeconds(5), Duration.ofMinutes(5), 0, 0);
            Relay relay = onions.relay("plain", echo.port(), List.of(), List.of(), options);
            AtomicInteger holding = new AtomicInteger();
            AtomicInteger mostHeld = new AtomicInteger();
            AtomicInteger mostCounted = new AtomicInteger();
            AtomicBoolean done = new AtomicBoolean();
            LongAdder admitted = new LongAdder();
            LongAdder refused = new LongAdder();
            Thread sampler = new Thread(() -> {
                while (!done.get()) {
                    mostCounted.accumulateAndGet(relay.stats().activeTunnels(), Math::max);
                    Thread.onSpinWait();
                }
            });
            sampler.start();
            List<Socket> held = new CopyOnWriteArrayList<>();
            Map<Integer, Integer> errors = new ConcurrentHashMap<>();
            ExecutorService clients = Executors.newFixedThreadPool(8);
            for (int t = 0; t < 8; t++) {
                clients.execute(() -> {
                    for (int i = 0; i < 10_000 / 8; i++) {
                        try {
                            Socket socket = new Socket(InetAddress.getLoopbackAddress(), Onions.port(relay));
                            socket.setSoTimeout(10_000);
                            socket.getOutputStream().write('x');
                            int answer;
                            try {
                                answer = socket.getInputStream().read();
                            } catch (IOException reset) {
                                answer = -1;
                            }
                            if (answer == 'x') {
                                mostHeld.accumulateAndGet(holding.incrementAndGet(), Math::max);
                                admitted.increment();
                                held.add(socket);
                            } else {
                                refused.increment();
                                socket.close();
                            }
                        } catch (IOException e) {
                            errors.merge(0, 1, Integer::sum);
                        }
                    }
                });
            }
            clients.shutdown();
            assertThat(clients.awaitTermination(120, TimeUnit.SECONDS)).isTrue();
            done.set(true);
            sampler.join();
            System.out.printf(
                    "10,000 connects, maxTunnels %d: %d admitted, %d refused, %d errors; most held %d, most counted %d%n",
                    max, admitted.sum(), refused.sum(), errors.getOrDefault(0, 0), mostHeld.get(), mostCounted.get());
            assertThat(admitted.sum()).isEqualTo(max);
            assertThat(mostHeld.get()).isLessThanOrEqualTo(max);
            assertThat(mostCounted.get()).isLessThanOrEqualTo(max);
            for (Socket socket : held) {
                socket.close();
            }
            await().atMost(Duration.ofSeconds(20))
                    .until(() -> relay.tunnels().isEmpty()
                            && relay.stats().activeTunnels() == 0
                            && onions.engine.openTunnels() == 0);
        }
    }
}
