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
import dev.onionrelay.support.ScriptedPeer;
import dev.onionrelay.support.StallingTcpProxy;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import tools.jackson.databind.JsonNode;

/**
 * A database that stops answering (a hung server, a network that drops packets: a proxy in front of PostgreSQL that
 * keeps its connections open and moves no byte) for 10 s, while a create waits on it. Everything that does not need
 * the database keeps answering within a second throughout: the relay list (served from memory), a push and a pop on
 * a tunnel through a depth-2 onion, new tunnels through the existing relays, and the health probes. The create that
 * waits on the database ends in 503 within {@code onion.store.timeout}, leaves nothing behind, and succeeds once the
 * database answers again.
 */
@Scenario
class DatabaseStallTest {

    /**
     * Below the pool's former fixed waits (3 s for a connection, then 2 s to check the last idle one), which held the
     * stalled create 4.4 s under this timeout: the store timeout now bounds them too (StoreTimeout).
     */
    static final Duration STORE_TIMEOUT = Duration.ofSeconds(2);

    static final Duration STALL = Duration.ofSeconds(10);
    /** What every call that does not need the database must answer within, during the stall. */
    static final Duration ANSWER = Duration.ofSeconds(1);
    /** Above the store timeout: the time to hand the failure back as a 503 (a loaded 2-core CI machine). */
    static final Duration MARGIN = Duration.ofMillis(750);

    static final Duration STEP = Duration.ofSeconds(20);
    static final int ROUNDS = 100;

    @TempDir
    static Path dir;

    static PgCluster cluster;
    static StallingTcpProxy proxy;
    static Fleet fleet;
    static EchoServer echo;
    static ApiClient api;
    static int entryPort;
    static String caFile;

    @BeforeAll
    static void start() throws Exception {
        cluster = PgCluster.create();
        proxy = new StallingTcpProxy(cluster.port());
        echo = new EchoServer();
        fleet = new Fleet(
                        cluster,
                        dir,
                        "stall",
                        "--onion.store.timeout=" + STORE_TIMEOUT.toSeconds() + "s",
                        // the sync reads the store during the stall too, and must not hold up the API meanwhile
                        "--onion.store.resync=1s")
                .withDatabaseThrough(proxy.port());
        fleet.start("a");
        api = fleet.admin("a");
        created(api.post("/credentials", Map.of("name", "ca", "generate", Map.of("ca", true))));
        created(api.post(
                "/credentials",
                Map.of(
                        "name",
                        "hop",
                        "generate",
                        Map.of("issuer", "ca", "commonName", "localhost", "dnsNames", List.of("localhost")))));
        caFile = dir.resolve("ca.pem").toString();
        Files.writeString(
                Path.of(caFile), api.get("/credentials/ca/certificate").body());
        // A depth-2 onion: entry wraps two layers, exit peels them, the echo server answers.
        int exitPort = LocalServers.freePort();
        created(api.post("/relays", """
                {"name":"exit","listen":{"host":"127.0.0.1","port":%d},"target":{"host":"127.0.0.1","port":%d},
                 "ingress":[{"name":"L0","credential":"hop"},{"name":"L1","credential":"hop"}]}""".formatted(exitPort, echo.port())));
        entryPort = LocalServers.freePort();
        created(api.post("/relays", """
                {"name":"entry","listen":{"host":"127.0.0.1","port":%d},"target":{"host":"127.0.0.1","port":%d},
                 "egress":[{"name":"L0","trust":"ca","serverName":"localhost"},
                           {"name":"L1","trust":"ca","serverName":"localhost"}]}""".formatted(entryPort, exitPort)));
        assertThat(echoes("before the stall")).isTrue();
    }

    @AfterAll
    static void stop() throws Exception {
        if (fleet != null) {
            fleet.close();
        }
        if (proxy != null) {
            proxy.close();
        }
        if (echo != null) {
            echo.close();
        }
        if (cluster != null) {
            cluster.close();
        }
    }

    @Test
    void whileTheDatabaseStallsEverythingElseAnswersWithinASecondAndTheCreateWaitingOnItGets503() throws Exception {
        List<String> steps = new ArrayList<>(List.of("send:plain", "expect:plain"));
        for (int round = 0; round < ROUNDS; round++) {
            steps.addAll(List.of(
                    "waitline",
                    "push:ca=" + caFile + ";server_name=localhost",
                    "send:in" + round,
                    "expect:in" + round,
                    "waitpop",
                    "send:out" + round,
                    "expect:out" + round));
        }
        int stalledPort = LocalServers.freePort();
        String stalledCreate = """
                {"name":"stalled","listen":{"host":"127.0.0.1","port":%d},"target":{"host":"127.0.0.1","port":%d}}""".formatted(stalledPort, echo.port());
        Latencies latencies = new Latencies();
        try (ScriptedPeer peer = ScriptedPeer.start(
                "client", "--connect", "127.0.0.1:" + entryPort, "--steps", String.join(",", steps))) {
            peer.awaitLine("STEP 1 expect OK", STEP);
            JsonNode tunnels = api.get("/relays/entry/tunnels").json();
            assertThat(tunnels.size()).as(tunnels.toString()).isEqualTo(1);
            String layers = "/relays/entry/tunnels/" + tunnels.get(0).get("id").asString() + "/ingress/layers";

            // A first round before the stall, so that the rounds during it do not pay for first-time work.
            pushAndPop(peer, layers, 0, new Latencies());

            proxy.stall();
            long stallStarted = System.nanoTime();
            CompletableFuture<Timed<Response>> create =
                    CompletableFuture.supplyAsync(() -> Timed.of(() -> api.post("/relays", stalledCreate)));
            int round = 1;
            while (System.nanoTime() - stallStarted < STALL.toNanos()) {
                long tick = System.nanoTime();
                Response list = latencies.time("GET /relays", () -> api.get("/relays"));
                assertThat(list.status()).as(list.toString()).isEqualTo(200);
                assertThat(list.json().findValuesAsString("name")).contains("entry", "exit");
                for (String read : List.of("/credentials", "/relays/entry/tunnels", "/fleet/members")) {
                    Response answer = latencies.time("GET " + read, () -> api.get(read));
                    assertThat(answer.status()).as(read + ": " + answer).isEqualTo(200);
                }

                assertThat(latencies.time("a new tunnel through entry and exit", () -> echoes("round " + tick)))
                        .isTrue();

                pushAndPop(peer, layers, round++, latencies);

                for (String probe : List.of(
                        "/actuator/health/liveness",
                        "/actuator/health/readiness",
                        "/actuator/health",
                        "/actuator/prometheus")) {
                    Response health = latencies.time(
                            probe, () -> fleet.instance("a").management().get(probe));
                    if (probe.contains("/liveness") || probe.contains("/readiness")) {
                        // an outage is no reason to restart the instance or take it out of service
                        assertThat(health.status()).as(probe + ": " + health).isEqualTo(200);
                    }
                }
                TimeUnit.NANOSECONDS.sleep(Math.max(0, Duration.ofMillis(200).toNanos() - (System.nanoTime() - tick)));
            }
            assertThat(create).as("the create ended during the stall").isDone();
            Timed<Response> stalled = create.join();
            System.out.printf("stalled create: %d ms %s%n", stalled.elapsed().toMillis(), stalled.value());
            assertThat(stalled.value().status()).as(stalled.value().toString()).isEqualTo(503);
            assertThat(stalled.value().contentType()).startsWith("application/problem+json");
            assertThat(stalled.value().header("Retry-After")).isNotNull();
            assertThat(stalled.elapsed())
                    .as("the stalled create waited on the database, and answered within onion.store.timeout")
                    .isBetween(STORE_TIMEOUT.dividedBy(2), STORE_TIMEOUT.plus(MARGIN));
            assertThat(latencies.worst())
                    .as("every call answered within %s during the stall (%d rounds): %s", ANSWER, round - 1, latencies)
                    .allSatisfy((call, worst) -> assertThat(worst).as(call).isLessThan(ANSWER));
            // one round every 2 s at least, even on a loaded machine: the calls were made throughout the stall
            assertThat(round - 1).as("rounds during the stall").isGreaterThanOrEqualTo(5);
            System.out.printf(
                    "database stall: %d rounds; worst answers %s; the stalled create answered %d in %d ms%n",
                    round - 1,
                    latencies,
                    stalled.value().status(),
                    stalled.elapsed().toMillis());
        } finally {
            proxy.resume();
        }

        // Nothing of the refused create stayed: not on the instance, not in the store (no claim on its port).
        assertThat(api.get("/relays/stalled").status()).isEqualTo(404);
        assertThat(storedRelaysNamedOrOnPort("stalled", stalledPort)).isZero();
        // Once the database answers again, the same create succeeds, on the same port.
        await().atMost(Fleet.PROPAGATION).pollInterval(Duration.ofMillis(200)).untilAsserted(() -> {
            Response again = api.post("/relays", stalledCreate);
            assertThat(again.status()).as(again.toString()).isEqualTo(201);
        });
        assertThat(storedRelaysNamedOrOnPort("stalled", stalledPort)).isOne();
        assertThat(echoes("after the stall")).isTrue();
    }

    /**
     * One round of a push (a server layer on the tunnel's ingress: the peer then starts TLS inside and echoes through
     * it) and a pop (close_notify out, the peer answers and echoes in plaintext again), each call timed.
     */
    private static void pushAndPop(ScriptedPeer peer, String layers, int round, Latencies latencies) throws Exception {
        Response pushed = latencies.time("push", () -> api.post(layers, Map.of("credential", "hop")));
        assertThat(pushed.status()).as(pushed.toString()).isEqualTo(201);
        int base = 2 + 7 * round;
        peer.proceed();
        peer.awaitLine("STEP " + (base + 3) + " expect OK", STEP);
        Response popped = latencies.time("pop", () -> api.delete(layers + "/innermost"));
        assertThat(popped.status()).as(popped.toString()).isEqualTo(202);
        peer.awaitLine("STEP " + (base + 6) + " expect OK", STEP);
    }

    private static void created(Response response) {
        assertThat(response.status()).as(response.toString()).isEqualTo(201);
    }

    /** A new connection through entry (two layers) and exit to the echo server: what it sends comes back. */
    private static boolean echoes(String text) throws IOException {
        byte[] bytes = text.getBytes(StandardCharsets.US_ASCII);
        try (Socket socket = new Socket()) {
            socket.connect(new InetSocketAddress("127.0.0.1", entryPort), 5000);
            socket.setSoTimeout(5000);
            socket.getOutputStream().write(bytes);
            InputStream in = socket.getInputStream();
            return new String(in.readNBytes(bytes.length), StandardCharsets.US_ASCII).equals(text);
        }
    }

    private static int storedRelaysNamedOrOnPort(String name, int port) throws Exception {
        try (Connection connection =
                        DriverManager.getConnection(cluster.jdbcUrl("stall"), PgCluster.USER, PgCluster.PASSWORD);
                PreparedStatement select =
                        connection.prepareStatement("SELECT count(*) FROM relays WHERE name = ? OR listen_port = ?")) {
            select.setString(1, name);
            select.setInt(2, port);
            try (ResultSet row = select.executeQuery()) {
                row.next();
                return row.getInt(1);
            }
        }
    }

    /** A value and how long it took to get. */
    record Timed<T>(T value, Duration elapsed) {
        static <T> Timed<T> of(Callable<T> call) {
            long started = System.nanoTime();
            try {
                T value = call.call();
                return new Timed<>(value, Duration.ofNanos(System.nanoTime() - started));
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        }
    }

    /** The slowest answer of each kind of call. */
    static final class Latencies {
        private final Map<String, Duration> worst = new TreeMap<>();

        <T> T time(String call, Callable<T> work) {
            Timed<T> timed = Timed.of(work);
            worst.merge(call, timed.elapsed(), (a, b) -> a.compareTo(b) >= 0 ? a : b);
            return timed.value();
        }

        Map<String, Duration> worst() {
            return worst;
        }

        @Override
        public String toString() {
            StringBuilder text = new StringBuilder();
            worst.forEach((call, slowest) ->
                    text.append(call).append(' ').append(slowest.toMillis()).append(" ms; "));
            return text.toString();
        }
    }
}
