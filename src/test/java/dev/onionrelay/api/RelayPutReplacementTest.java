package dev.onionrelay.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.onionrelay.support.ApiClient;
import dev.onionrelay.support.ApiOnion;
import dev.onionrelay.support.EchoServer;
import dev.onionrelay.support.RunningService;
import dev.onionrelay.support.Scenario;
import dev.onionrelay.support.Traffic;
import java.io.IOException;
import java.net.ConnectException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import tools.jackson.databind.JsonNode;

/**
 * {@code PUT /relays/{id}} on one instance with the directory store: an entry relay goes from one egress layer (to an
 * exit that peels one) to two (to an exit that peels two) while tunnels stream through it and a client connects in a
 * loop. No connection is refused, the old tunnels finish intact on their one layer, new tunnels have two and show
 * revision 2; the replacement survives a restart. A replacement the rules refuse changes nothing.
 */
@Scenario
class RelayPutReplacementTest {

    private static final long STREAM = 16L << 20;

    @TempDir
    Path state;

    private EchoServer echo;
    private RunningService service;
    private ApiClient api;
    private int oneLayerExit;
    private int twoLayerExit;
    private int entryPort;

    @BeforeEach
    void start() throws Exception {
        echo = new EchoServer();
        service = new RunningService(state);
        api = service.api();
        ApiOnion.credentials(api, "hop");
        twoLayerExit = ApiOnion.created(api.post("/relays", ApiOnion.exit(0, echo.port())));
        oneLayerExit = ApiOnion.created(api.post("/relays", """
                {"name":"exit-1","listen":{"host":"127.0.0.1","port":0},"target":{"host":"127.0.0.1","port":%d},
                 "ingress":[{"name":"outer","credential":"hop"}]}""".formatted(echo.port())));
        entryPort = ApiOnion.created(api.post("/relays", entry(0, oneLayerExit, 1)));
    }

    @AfterEach
    void stop() throws IOException {
        service.close();
        echo.close();
    }

    /** The entry with {@code depth} egress layers (outer, then inner) towards the exit on {@code exitPort}. */
    private static String entry(int listenPort, int exitPort, int depth) {
        String outer = "{\"name\":\"outer\",\"trust\":\"ca\",\"serverName\":\"localhost\"}";
        String inner = "{\"name\":\"inner\",\"trust\":\"ca\",\"serverName\":\"localhost\"}";
        return """
                {"name":"entry","listen":{"host":"127.0.0.1","port":%d},"target":{"host":"127.0.0.1","port":%d},
                 "egress":[%s]}""".formatted(listenPort, exitPort, depth == 1 ? outer : outer + "," + inner);
    }

    @Test
    void aRelayReplacedWhileTunnelsStreamRefusesNoConnectionAndNewTunnelsTakeTheNewStack() throws Exception {
        int streams = 3;
        CountDownLatch allMidway = new CountDownLatch(streams);
        CountDownLatch replaced = new CountDownLatch(1);
        List<CompletableFuture<Traffic.Echo>> old = new ArrayList<>();
        for (int i = 0; i < streams; i++) {
            old.add(CompletableFuture.supplyAsync(() -> {
                try {
                    return Traffic.echoThenClose(entryPort, STREAM, STREAM / 4, () -> {
                        allMidway.countDown();
                        waitFor(replaced);
                    });
                } catch (Exception e) {
                    throw new AssertionError(e);
                }
            }));
        }
        assertThat(allMidway.await(60, TimeUnit.SECONDS))
                .as("every old tunnel streaming")
                .isTrue();
        assertThat(revisions()).containsExactly(1L, 1L, 1L);

        AtomicBoolean looping = new AtomicBoolean(true);
        AtomicInteger connected = new AtomicInteger();
        AtomicInteger refused = new AtomicInteger();
        CompletableFuture<Void> loop = CompletableFuture.runAsync(() -> {
            while (looping.get()) {
                try (Socket socket = new Socket()) {
                    socket.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), entryPort), 2_000);
                    connected.incrementAndGet();
                } catch (ConnectException e) {
                    refused.incrementAndGet();
                } catch (IOException e) {
                    refused.incrementAndGet();
                }
                // Every connection costs this relay two handshakes with the exit (no ingress layers: it connects at
                // once, in case the target speaks first), and the exit two more: ten a second is plenty to see a gap.
                sleep(100);
            }
        });
        await().atMost(Duration.ofSeconds(20)).until(() -> connected.get() > 5);

        ApiClient.Response answer = api.send("PUT", "/relays/entry", entry(0, twoLayerExit, 2));
        int connectsBefore = connected.get();
        assertThat(answer.status()).as(answer.toString()).isEqualTo(200);
        JsonNode view = answer.json();
        assertThat(view.at("/revision").asLong()).isEqualTo(2);
        assertThat(view.at("/listen/port").asInt()).as("the same listener").isEqualTo(entryPort);
        assertThat(view.at("/egress").size()).isEqualTo(2);
        assertThat(view.at("/state").asString()).isEqualTo("LISTENING");

        await().atMost(Duration.ofSeconds(20)).until(() -> connected.get() > connectsBefore + 5);
        looping.set(false);
        loop.get(10, TimeUnit.SECONDS);
        assertThat(refused.get())
                .as("connections refused while the relay was replaced")
                .isZero();

        // A new tunnel goes through both new layers (the two-layer exit would refuse one) and shows revision 2.
        try (Socket fresh = new Socket(InetAddress.getLoopbackAddress(), entryPort)) {
            fresh.setSoTimeout(30_000);
            fresh.getOutputStream().write("new".getBytes());
            try {
                assertThat(new String(fresh.getInputStream().readNBytes(3))).isEqualTo("new");
            } catch (java.net.SocketTimeoutException e) {
                throw new AssertionError(
                        "no echo through the new tunnel; tunnels: "
                                + api.get("/relays/entry/tunnels").body() + "; relay: "
                                + api.get("/relays/entry").body(),
                        e);
            }
            // The loop's connections close as it ends; then the three streams and this one are what is open.
            await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> {
                JsonNode tunnels = api.get("/relays/entry/tunnels").json();
                assertThat(tunnels.valueStream()
                                .map(tunnel -> tunnel.at("/revision").asLong() + "/depth "
                                        + tunnel.at("/egress/depth").asInt())
                                .toList())
                        .as("the old tunnels on their one layer, the new one on two")
                        .containsExactly("1/depth 1", "1/depth 1", "1/depth 1", "2/depth 2");
            });
        }

        replaced.countDown();
        for (CompletableFuture<Traffic.Echo> stream : old) {
            assertThat(stream.get(120, TimeUnit.SECONDS).intact())
                    .as("an echo opened before the replacement")
                    .isTrue();
        }

        service.stop();
        service.start();
        api = service.api();
        JsonNode restored = api.get("/relays/entry").json();
        assertThat(restored.at("/revision").asLong()).as("after a restart").isEqualTo(2);
        assertThat(restored.at("/egress").size()).isEqualTo(2);
        assertThat(ApiOnion.roundTrip("127.0.0.1", entryPort, 64 << 10)).isTrue();
    }

    @Test
    void aReplacementThatBreaksARuleChangesNothingAndAMovedListenerOpensBeforeTheOldCloses() throws Exception {
        ApiClient.Response unknown = api.send("PUT", "/relays/nobody", entry(0, oneLayerExit, 1));
        assertThat(unknown.status()).as(unknown.toString()).isEqualTo(404);

        ApiClient.Response badCredential = api.send("PUT", "/relays/entry", """
                {"listen":{"host":"127.0.0.1","port":0},"target":{"host":"127.0.0.1","port":%d},
                 "egress":[{"name":"outer","trust":"no-such-ca","serverName":"localhost"}]}""".formatted(oneLayerExit));
        assertThat(badCredential.status()).as(badCredential.toString()).isEqualTo(400);
        assertThat(badCredential.body()).contains("egress[0].trust");

        ApiClient.Response otherName = api.send(
                "PUT",
                "/relays/entry",
                entry(0, oneLayerExit, 1).replace("\"name\":\"entry\"", "\"name\":\"renamed\""));
        assertThat(otherName.status()).as(otherName.toString()).isEqualTo(400);
        assertThat(otherName.body()).contains("\"field\":\"name\"");

        ApiClient.Response portTaken = api.send("PUT", "/relays/entry", entry(twoLayerExit, oneLayerExit, 1));
        assertThat(portTaken.status()).as(portTaken.toString()).isEqualTo(409);

        ApiClient.Response unknownField = api.send("PUT", "/relays/entry", "{\"nmae\":\"entry\"}");
        assertThat(unknownField.status()).as(unknownField.toString()).isEqualTo(400);

        JsonNode unchanged = api.get("/relays/entry").json();
        assertThat(unchanged.at("/revision").asLong()).isEqualTo(1);
        assertThat(unchanged.at("/egress").size()).isEqualTo(1);
        assertThat(ApiOnion.roundTrip("127.0.0.1", entryPort, 64 << 10)).isTrue();

        // A new listen port: bound before the old one closes, so the relay answers on one or the other throughout.
        int moved = dev.onionrelay.support.LocalServers.freePort();
        ApiClient.Response move = api.send("PUT", "/relays/entry", entry(moved, oneLayerExit, 1));
        assertThat(move.status()).as(move.toString()).isEqualTo(200);
        assertThat(move.json().at("/listen/port").asInt()).isEqualTo(moved);
        assertThat(ApiOnion.roundTrip("127.0.0.1", moved, 64 << 10)).isTrue();
        assertThat(dev.onionrelay.support.LocalServers.accepts(entryPort))
                .as("the old listener")
                .isFalse();

        // An identity a relay presents cannot become a trust credential; a trust-only change of it is fine otherwise.
        String caPem = api.get("/credentials/ca/certificate").body();
        ApiClient.Response toTrust = api.send(
                "PUT", "/credentials/hop", ApiClient.JSON.writeValueAsString(java.util.Map.of("certificate", caPem)));
        assertThat(toTrust.status()).as(toTrust.toString()).isEqualTo(409);
        assertThat(toTrust.body()).contains("exit");
        assertThat(api.get("/credentials/hop").json().at("/version").asLong()).isEqualTo(1);
        ApiClient.Response credentialName =
                api.send("PUT", "/credentials/hop", """
                {"name":"other","generate":%s}""".formatted(ApiOnion.hopRequest("hop")));
        assertThat(credentialName.status()).as(credentialName.toString()).isEqualTo(400);
        assertThat(api.send("PUT", "/credentials/nobody", "{\"generate\":{\"ca\":true}}")
                        .status())
                .isEqualTo(404);
        assertThat(api.send("PUT", "/credentials/hop", "{\"generate\":{\"ca\":true},\"certificate\":\"x\"}")
                        .status())
                .isEqualTo(400);
    }

    private List<Long> revisions() {
        return api.get("/relays/entry/tunnels")
                .json()
                .valueStream()
                .map(tunnel -> tunnel.at("/revision").asLong())
                .toList();
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static void waitFor(CountDownLatch latch) {
        try {
            if (!latch.await(120, TimeUnit.SECONDS)) {
                throw new AssertionError("not released");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }
}
