package dev.onionrelay.fleet;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.onionrelay.support.ApiClient;
import dev.onionrelay.support.ApiClient.Response;
import dev.onionrelay.support.EchoServer;
import dev.onionrelay.support.Fleet;
import dev.onionrelay.support.LocalServers;
import dev.onionrelay.support.PgCluster;
import dev.onionrelay.support.Scenario;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import tools.jackson.databind.JsonNode;

/**
 * Two service processes (a on 127.0.0.1, b on 127.0.0.2) on one PostgreSQL with a short lease: a member that stops
 * renewing it is SUSPECT (not gone) for one more lease, and calls about its tunnels answer 504 naming it instead of
 * 404; tunnel ids name their instance; relay views say where each instance really listens; a loopback target that
 * the bind address makes miss is warned about at create; and how fast a create on one instance listens on the other.
 */
@Scenario
class FleetMembershipTest {

    static final Duration LEASE = Duration.ofSeconds(2);

    @TempDir
    static Path dir;

    static PgCluster cluster;
    static Fleet fleet;
    static EchoServer echo;

    @BeforeAll
    static void startFleet() throws Exception {
        cluster = PgCluster.create();
        echo = new EchoServer();
        fleet = new Fleet(
                cluster,
                dir,
                "members",
                "--onion.fleet.lease=" + LEASE.toMillis() + "ms",
                "--onion.fleet.call-timeout=1s");
        fleet.start("a", "b");
    }

    @AfterAll
    static void stopFleet() throws Exception {
        if (fleet != null) {
            fleet.close();
        }
        if (echo != null) {
            echo.close();
        }
        if (cluster != null) {
            cluster.close();
        }
    }

    @Test
    void aMemberPausedForTwoLeasesIsSuspectItsTunnelAnswers504NamingItAndItsStreamThenFinishesWhole() throws Exception {
        int port = freePort();
        createAndAwaitListening("streaming", port, echo.port());
        ApiClient a = fleet.admin("a");

        try (Socket onB = connect("b", port)) {
            PacedEcho stream = PacedEcho.start(onB, 8 << 20);
            await().atMost(Duration.ofSeconds(10)).until(() -> stream.received.get() >= 512 << 10);
            String tunnel = onlyTunnelOf(a, "streaming", "b");
            assertThat(tunnel).as("the id names its instance").endsWith(".b");

            fleet.instance("b").pause();
            long pausedAt = System.nanoTime();
            try {
                await().atMost(LEASE.multipliedBy(2))
                        .pollInterval(Duration.ofMillis(100))
                        .until(() -> "SUSPECT".equals(memberState(a, "b")));

                Response read = a.get("/relays/streaming/tunnels/" + tunnel);
                assertThat(read.status()).as(read.toString()).isEqualTo(504);
                assertThat(read.contentType()).startsWith("application/problem+json");
                assertThat(read.json().path("detail").asString()).contains("held by b", "SUSPECT");
                Response close = a.delete("/relays/streaming/tunnels/" + tunnel);
                assertThat(close.status()).as(close.toString()).isEqualTo(504);
                assertThat(close.json().path("detail").asString()).contains("b");

                JsonNode relay = a.get("/relays/streaming").json();
                assertThat(instance(relay, "b").path("state").asString())
                        .as(relay.toString())
                        .isEqualTo("SUSPECT");
                Response tunnels = a.get("/relays/streaming/tunnels");
                assertThat(tunnels.header(dev.onionrelay.api.RelayController.UNREACHABLE_MEMBERS))
                        .isEqualTo("b");

                sleepUntil(pausedAt + LEASE.multipliedBy(2).toNanos());
            } finally {
                fleet.instance("b").resume();
            }

            Echo result = stream.finish();
            assertThat(result.received).isEqualTo(result.sent);
            assertThat(result.receivedSha256).isEqualTo(result.sentSha256);
        }
        await().atMost(LEASE.multipliedBy(2))
                .pollInterval(Duration.ofMillis(100))
                .until(() -> "LIVE".equals(memberState(a, "b")));
    }

    @Test
    void aTunnelIdNamingAMemberThatLeftIsNotFoundWithoutAskingAnyone() {
        int port = freePort();
        createAndAwaitListening("gone", port, echo.port());
        Response answer = fleet.admin("a").get("/relays/gone/tunnels/0b1c9e2a-0000-4000-8000-000000000000.zed");
        assertThat(answer.status()).as(answer.toString()).isEqualTo(404);
        assertThat(answer.json().path("detail").asString()).contains("zed is not a member");
    }

    @Test
    void viewsSayWhereEachInstanceListensAndALoopbackTargetThatTheBindAddressMissesIsWarned() throws Exception {
        int next = freePort();
        createAndAwaitListening("next", next, echo.port());
        int port = freePort();
        Response created = fleet.admin("b")
                .post(
                        "/relays",
                        Map.of(
                                "name", "chained",
                                "listen", Map.of("host", "127.0.0.1", "port", port),
                                "target", Map.of("host", "127.0.0.1", "port", next)));
        assertThat(created.status()).as(created.toString()).isEqualTo(201);
        assertThat(created.json().path("warnings").get(0).asString())
                .as(created.toString())
                .contains("127.0.0.1:" + next, "127.0.0.2:" + next, "onion.fleet.bind-address");
        assertThat(Files.readString(fleet.log("b")))
                .containsPattern("relay chained \\(.*\\) listening on 127\\.0\\.0\\.2:" + port)
                .containsPattern("WARN.*relay chained .*127\\.0\\.0\\.2:" + next);

        await().atMost(Fleet.PROPAGATION).pollInterval(Duration.ofMillis(100)).untilAsserted(() -> {
            JsonNode relay = fleet.reader("a").get("/relays/chained").json();
            assertThat(instance(relay, "a").path("listen").path("host").asString())
                    .isEqualTo("127.0.0.1");
            assertThat(instance(relay, "b").path("listen").path("host").asString())
                    .as(relay.toString())
                    .isEqualTo("127.0.0.2");
            assertThat(instance(relay, "b").path("listen").path("port").asInt()).isEqualTo(port);
        });
        Response plain = fleet.admin("a").get("/relays/next");
        assertThat(plain.json().has("warnings")).as("only a create warns").isFalse();

        Response service = fleet.admin("b")
                .post(
                        "/relays",
                        Map.of(
                                "name", "to-a-service",
                                "listen", Map.of("host", "127.0.0.1", "port", freePort()),
                                "target", Map.of("host", "127.0.0.1", "port", echo.port())));
        assertThat(service.status()).isEqualTo(201);
        assertThat(service.json().has("warnings"))
                .as("a loopback service that is no relay: %s", service)
                .isFalse();

        Response fine = fleet.admin("b")
                .post(
                        "/relays",
                        Map.of(
                                "name", "to-own-address",
                                "listen", Map.of("host", "127.0.0.1", "port", freePort()),
                                "target", Map.of("host", "127.0.0.2", "port", next)));
        assertThat(fine.status()).isEqualTo(201);
        assertThat(fine.json().has("warnings")).as(fine.toString()).isFalse();
    }

    @Test
    void aRelayThatCannotListenOnOneInstanceNamesTheAddressItReallyTried() throws Exception {
        int port = freePort();
        try (ServerSocket taken = new ServerSocket(port, 1, InetAddress.getByName(fleet.bindAddress("b")))) {
            Response created = fleet.admin("a")
                    .post(
                            "/relays",
                            Map.of(
                                    "name", "clash",
                                    "listen", Map.of("host", "127.0.0.1", "port", port),
                                    "target", Map.of("host", "127.0.0.1", "port", echo.port())));
            assertThat(created.status()).as(created.toString()).isEqualTo(201);
            await().atMost(Fleet.PROPAGATION)
                    .pollInterval(Duration.ofMillis(100))
                    .untilAsserted(() -> {
                        JsonNode onB =
                                instance(fleet.reader("a").get("/relays/clash").json(), "b");
                        assertThat(onB.path("state").asString())
                                .as(onB.toString())
                                .isEqualTo("FAILED");
                        assertThat(onB.path("error").asString()).contains("cannot listen on 127.0.0.2:" + port);
                        assertThat(onB.path("listen").path("host").asString()).isEqualTo("127.0.0.2");
                    });
        }
    }

    /**
     * The propagation figure of docs/DEPLOYMENT.md: from just before a POST /relays on a until a connection to the
     * relay's port on b's address is accepted, one relay after another; printed, bounded only by the tests' limit.
     */
    @Test
    void aRelayCreatedOnOneInstanceListensOnTheOtherWithinThePropagationLimit() throws Exception {
        List<Long> micros = new ArrayList<>();
        for (int i = 0; i < 20; i++) {
            int port = freePort();
            long start = System.nanoTime();
            Response created = fleet.admin("a")
                    .post(
                            "/relays",
                            Map.of(
                                    "name", "p" + i,
                                    "listen", Map.of("host", "127.0.0.1", "port", port),
                                    "target", Map.of("host", "127.0.0.1", "port", echo.port())));
            assertThat(created.status()).as(created.toString()).isEqualTo(201);
            await().atMost(Fleet.PROPAGATION)
                    .pollInterval(Duration.ofMillis(1))
                    .until(() -> accepts(fleet.bindAddress("b"), port));
            micros.add((System.nanoTime() - start) / 1000);
        }
        List<Long> sorted = micros.stream().sorted().toList();
        System.out.printf(
                "propagation a -> b over %d creates: median %.1f ms, max %.1f ms%n",
                sorted.size(), sorted.get(sorted.size() / 2) / 1000.0, sorted.get(sorted.size() - 1) / 1000.0);
    }

    private static void createAndAwaitListening(String name, int port, int target) {
        Response created = fleet.admin("a")
                .post(
                        "/relays",
                        Map.of(
                                "name", name,
                                "listen", Map.of("host", "127.0.0.1", "port", port),
                                "target", Map.of("host", "127.0.0.1", "port", target)));
        assertThat(created.status()).as(created.toString()).isEqualTo(201);
        await().atMost(Fleet.PROPAGATION)
                .pollInterval(Duration.ofMillis(50))
                .until(() -> accepts(fleet.bindAddress("a"), port) && accepts(fleet.bindAddress("b"), port));
    }

    private static String onlyTunnelOf(ApiClient api, String relay, String instance) {
        return await().atMost(Duration.ofSeconds(5))
                .until(
                        () -> {
                            for (JsonNode tunnel :
                                    api.get("/relays/" + relay + "/tunnels").json()) {
                                if (tunnel.path("instance").asString().equals(instance)) {
                                    return tunnel.path("id").asString();
                                }
                            }
                            return null;
                        },
                        id -> id != null);
    }

    private static String memberState(ApiClient api, String name) {
        for (JsonNode member : api.get("/fleet/members").json()) {
            if (member.path("name").asString().equals(name)) {
                return member.path("state").asString();
            }
        }
        return "GONE";
    }

    private static JsonNode instance(JsonNode relay, String name) {
        for (JsonNode instance : relay.path("instances")) {
            if (instance.path("name").asString().equals(name)) {
                return instance;
            }
        }
        throw new AssertionError("no instance " + name + " in " + relay);
    }

    private static Socket connect(String instance, int port) throws IOException {
        Socket socket = new Socket();
        socket.connect(new InetSocketAddress(fleet.bindAddress(instance), port), 5000);
        socket.setSoTimeout(30_000);
        return socket;
    }

    private static boolean accepts(String address, int port) {
        try (Socket socket = new Socket()) {
            socket.connect(new InetSocketAddress(address, port), 200);
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    private static void sleepUntil(long nanos) throws InterruptedException {
        long left = nanos - System.nanoTime();
        if (left > 0) {
            Thread.sleep(left / 1_000_000, (int) (left % 1_000_000));
        }
    }

    private static int freePort() {
        return LocalServers.freePort();
    }

    record Echo(long sent, long received, String sentSha256, String receivedSha256) {}

    /**
     * An echo stream sent at about 2 MiB/s, so that it is still running while the holder is paused; the echo is read
     * concurrently and both directions are hashed.
     */
    static final class PacedEcho {
        // both directions block: each on its own thread, never the common pool (one thread on two cores)
        private static final java.util.concurrent.Executor OWN_THREAD = task -> {
            Thread thread = new Thread(task, "paced-echo");
            thread.setDaemon(true);
            thread.start();
        };
        final AtomicLong received = new AtomicLong();
        private final CompletableFuture<String> sent;
        private final CompletableFuture<String> read;
        private final long bytes;

        private PacedEcho(Socket socket, long bytes) {
            this.bytes = bytes;
            this.sent = CompletableFuture.supplyAsync(
                    () -> {
                        try {
                            MessageDigest digest = MessageDigest.getInstance("SHA-256");
                            OutputStream out = socket.getOutputStream();
                            Random random = new Random(bytes);
                            byte[] chunk = new byte[32 * 1024];
                            for (long left = bytes; left > 0; left -= chunk.length) {
                                random.nextBytes(chunk);
                                digest.update(chunk);
                                out.write(chunk);
                                Thread.sleep(15);
                            }
                            out.flush();
                            return HexFormat.of().formatHex(digest.digest());
                        } catch (Exception e) {
                            throw new IllegalStateException(e);
                        }
                    },
                    OWN_THREAD);
            this.read = CompletableFuture.supplyAsync(
                    () -> {
                        try {
                            MessageDigest digest = MessageDigest.getInstance("SHA-256");
                            InputStream in = socket.getInputStream();
                            byte[] buffer = new byte[64 * 1024];
                            while (received.get() < bytes) {
                                int n = in.read(buffer, 0, (int) Math.min(buffer.length, bytes - received.get()));
                                if (n < 0) {
                                    break;
                                }
                                digest.update(buffer, 0, n);
                                received.addAndGet(n);
                            }
                            return HexFormat.of().formatHex(digest.digest());
                        } catch (Exception e) {
                            throw new IllegalStateException(e);
                        }
                    },
                    OWN_THREAD);
        }

        static PacedEcho start(Socket socket, long bytes) {
            return new PacedEcho(socket, bytes);
        }

        Echo finish() throws Exception {
            String sentSha256 = sent.get();
            String receivedSha256 = read.get();
            return new Echo(bytes, received.get(), sentSha256, receivedSha256);
        }
    }
}
