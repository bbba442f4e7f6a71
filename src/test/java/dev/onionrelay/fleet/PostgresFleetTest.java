package dev.onionrelay.fleet;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.onionrelay.credential.Credential;
import dev.onionrelay.credential.PemCodec;
import dev.onionrelay.support.ApiClient;
import dev.onionrelay.support.EchoServer;
import dev.onionrelay.support.FixedPorts;
import dev.onionrelay.support.PgCluster;
import dev.onionrelay.support.Scenario;
import dev.onionrelay.support.ServiceProcess;
import dev.onionrelay.support.SteadyStream;
import dev.onionrelay.support.TestPki;
import dev.onionrelay.support.TlsEcho;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import tools.jackson.databind.JsonNode;

/**
 * Three real service processes (A, B, C on 127.0.0.1, .2 and .3, the same relay ports) on one real PostgreSQL: a
 * change made through any instance is served by all three, name races have one winner, and a database outage stops
 * no byte. One cluster and one set of processes for the class; the scenarios run in order on the same fleet.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
@Scenario
class PostgresFleetTest {

    private static final String[] ADDRESSES = {"127.0.0.1", "127.0.0.2", "127.0.0.3"};

    static Path dir;

    private static PgCluster cluster;
    private static String url;
    private static Path keyFile;
    private static final List<ServiceProcess> fleet = new ArrayList<>();
    private static final TestPki pki = new TestPki();
    private static EchoServer echo;

    @BeforeAll
    static void startFleet() throws Exception {
        dir = Files.createTempDirectory("i14-store-fleet-");
        cluster = PgCluster.create();
        url = cluster.createDatabase("fleet");
        byte[] key = new byte[32];
        new SecureRandom().nextBytes(key);
        keyFile = Files.writeString(dir.resolve("kek"), Base64.getEncoder().encodeToString(key));
        echo = new EchoServer();
        List<CompletableFuture<Void>> starts = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            ServiceProcess instance = instance(i, keyFile);
            fleet.add(instance);
            starts.add(CompletableFuture.runAsync(instance::start));
        }
        CompletableFuture.allOf(starts.toArray(CompletableFuture[]::new)).join();
        pki.ca("fleet-ca");
        Credential hop = pki.leaf("fleet-hop", "fleet-ca", List.of("localhost"), List.of(ADDRESSES));
        ApiClient.Response imported = api(0).post(
                        "/credentials",
                        Map.of(
                                "name", "fleet-hop",
                                "certificate", PemCodec.certificatesToPem(hop.chain()),
                                "privateKey", PemCodec.privateKeyToPem(hop.privateKey())));
        assertThat(imported.status()).as(imported.toString()).isEqualTo(201);
        warmUp();
    }

    /**
     * One TLS relay through every instance before anything is timed: a cold JVM builds its first TLS context and
     * handshake code in seconds on a busy machine, which would measure the JIT, not propagation.
     */
    private static void warmUp() throws Exception {
        int port = freePortOnAll();
        ApiClient.Response created = api(0).post("/relays", exitRelay("warm-up", port));
        assertThat(created.status()).as(created.toString()).isEqualTo(201);
        String id = created.json().get("id").asString();
        await().atMost(Duration.ofSeconds(60)).untilAsserted(() -> {
            for (int i = 0; i < 3; i++) {
                assertThat(api(i).get("/relays/" + id).body()).contains("LISTENING");
            }
        });
        for (String address : ADDRESSES) {
            assertThat(tlsEcho(address, port, 1 << 20)).isTrue();
        }
        assertThat(api(1).delete("/relays/" + id).status()).isEqualTo(204);
        await().atMost(Duration.ofSeconds(60)).untilAsserted(() -> {
            for (int i = 0; i < 3; i++) {
                assertThat(api(i).get("/relays/" + id).status()).isEqualTo(404);
            }
        });
    }

    private static String exitRelay(String name, int port) {
        return """
                {"name":"%s","listen":{"host":"127.0.0.1","port":%d},"target":{"host":"127.0.0.1","port":%d},
                 "ingress":[{"name":"outer","credential":"fleet-hop"}]}""".formatted(name, port, echo.port());
    }

    private static ServiceProcess instance(int i, Path kek) {
        String name = "abc".substring(i, i + 1);
        return new ServiceProcess(
                dir.resolve("state-" + name),
                dir.resolve("instance-" + name + ".log"),
                "--onion.store.type=postgres",
                "--spring.datasource.url=" + url,
                "--spring.datasource.username=" + PgCluster.USER,
                "--spring.datasource.password=" + PgCluster.PASSWORD,
                "--onion.store.encryption-key-file=" + kek,
                "--onion.fleet.instance-name=" + name,
                "--onion.fleet.bind-address=" + ADDRESSES[i],
                "--logging.level.dev.onionrelay.store=DEBUG");
    }

    @AfterAll
    static void stopFleet() throws IOException {
        fleet.forEach(ServiceProcess::close);
        if (echo != null) {
            echo.close();
        }
        if (cluster != null) {
            cluster.close();
        }
    }

    private static ApiClient api(int i) {
        return fleet.get(i).api();
    }

    @Test
    @Order(1)
    void everyInstanceUsesTheOneGeneratedAdminToken() throws IOException {
        String a = Files.readString(fleet.get(0).stateDir().resolve("admin.token"));
        assertThat(Files.readString(fleet.get(1).stateDir().resolve("admin.token")))
                .isEqualTo(a);
        assertThat(Files.readString(fleet.get(2).stateDir().resolve("admin.token")))
                .isEqualTo(a);
        assertThat(api(1).get("/relays").status()).isEqualTo(200);
    }

    @Test
    @Order(2)
    void aRelayCreatedThroughACarriesBytesThroughBAndCWithinTwoSecondsAndDeletedThroughCStopsEverywhere()
            throws Exception {
        int port = freePortOnAll();
        ApiClient.Response created = api(0).post("/relays", exitRelay("exit", port));
        assertThat(created.status()).as(created.toString()).isEqualTo(201);
        String id = created.json().get("id").asString();

        await().atMost(Duration.ofSeconds(2))
                .pollInterval(Duration.ofMillis(50))
                .untilAsserted(() -> {
                    for (int i = 1; i < 3; i++) {
                        ApiClient.Response relay = api(i).get("/relays/" + id);
                        assertThat(relay.status()).isEqualTo(200);
                        assertThat(relay.json().get("state").asString()).isEqualTo("LISTENING");
                    }
                });
        for (int i = 0; i < 3; i++) {
            assertThat(tlsEcho(ADDRESSES[i], port, 16L << 20))
                    .as("16 MiB through instance " + i)
                    .isTrue();
        }

        assertThat(api(2).delete("/relays/" + id).status()).isEqualTo(204);
        await().atMost(Duration.ofSeconds(2))
                .pollInterval(Duration.ofMillis(50))
                .untilAsserted(() -> {
                    for (String address : ADDRESSES) {
                        assertThat(accepts(address, port))
                                .as("listening on " + address)
                                .isFalse();
                    }
                });
        assertThat(api(0).get("/relays/" + id).status()).isEqualTo(404);
    }

    @Test
    @Order(3)
    void ofAHundredConcurrentCreatesOfTwentyNamesOverThreeInstancesTwentySucceedAndAllEndAlike() throws Exception {
        List<Integer> ports = new ArrayList<>();
        for (int n = 0; n < 20; n++) {
            ports.add(freePortOnAll());
        }
        ExecutorService clients = Executors.newFixedThreadPool(24);
        List<Future<Integer>> statuses = new ArrayList<>();
        List<String> refusals = java.util.Collections.synchronizedList(new ArrayList<>());
        try {
            for (int k = 0; k < 100; k++) {
                int n = k % 20;
                ApiClient client = api(k % 3);
                String body = """
                        {"name":"race-%d","listen":{"host":"127.0.0.1","port":%d},"target":{"host":"127.0.0.1","port":%d}}""".formatted(n, ports.get(n), echo.port());
                statuses.add(clients.submit(() -> {
                    ApiClient.Response answer = client.post("/relays", body);
                    if (answer.status() != 201) {
                        refusals.add(answer.status() + " race-" + n + ": " + answer.body());
                    }
                    return answer.status();
                }));
            }
            List<Integer> all = new ArrayList<>();
            for (Future<Integer> status : statuses) {
                all.add(status.get());
            }
            assertThat(all)
                    .as("refusals: %s", refusals)
                    .filteredOn(s -> s == 201)
                    .hasSize(20);
            assertThat(all)
                    .as("refusals: %s", refusals)
                    .filteredOn(s -> s == 409)
                    .hasSize(80);
        } finally {
            clients.shutdownNow();
        }
        await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> {
            Set<String> a = relays(0);
            assertThat(a).hasSize(20);
            assertThat(relays(1)).isEqualTo(a);
            assertThat(relays(2)).isEqualTo(a);
        });
        for (int i = 0; i < 3; i++) {
            for (JsonNode relay : api(i).get("/relays").json()) {
                assertThat(relay.get("state").asString()).as(relay.toString()).isEqualTo("LISTENING");
            }
        }
    }

    /**
     * The database away for {@link #OUTAGE} while bytes stream through B: every instance notices, writes are refused,
     * reads answer, an instance restarted meanwhile serves its snapshot, and nothing is lost. 15 s outlasts what
     * could end differently with a longer outage: the store timeout (5 s) three times, every instance's lease (10 s,
     * so all of them come back after theirs ran out) and a dozen of the change feed's reconnects (one a second); it
     * was 30 s, which only repeated them.
     */
    private static final Duration OUTAGE = Duration.ofSeconds(15);

    @Test
    @Order(4)
    void aDatabaseOutageLosesNoByteRefusesWritesAndARestartedInstanceServesItsSnapshot() throws Exception {
        int port = freePortOnAll();
        ApiClient.Response steady = api(0).post("/relays", """
                {"name":"steady","listen":{"host":"127.0.0.1","port":%d},"target":{"host":"127.0.0.1","port":%d}}""".formatted(port, echo.port()));
        assertThat(steady.status()).as(steady.toString()).isEqualTo(201);
        await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> {
            for (String address : ADDRESSES) {
                assertThat(accepts(address, port)).isTrue();
            }
        });

        try (SteadyStream stream = new SteadyStream(ADDRESSES[1], port)) {
            await().atMost(Duration.ofSeconds(10)).until(() -> stream.received() > 0);
            cluster.stop();
            long stoppedAt = System.nanoTime();
            boolean restarted = false;
            try {
                await().atMost(Duration.ofSeconds(20)).untilAsserted(() -> {
                    JsonNode health =
                            fleet.get(1).management().get("/actuator/health").json();
                    assertThat(health.at("/components/store/status").asString()).isEqualTo("DOWN");
                });
                assertThat(fleet.get(1)
                                .management()
                                .get("/actuator/health/readiness")
                                .status())
                        .as("the data plane stays ready")
                        .isEqualTo(200);

                ApiClient.Response refused = api(0).post("/relays", """
                        {"name":"during-outage","listen":{"host":"127.0.0.1","port":0},"target":{"host":"127.0.0.1","port":%d}}""".formatted(echo.port()));
                assertThat(refused.status()).as(refused.toString()).isEqualTo(503);
                assertThat(refused.contentType()).startsWith("application/problem+json");
                assertThat(refused.json().get("type").asString())
                        .isEqualTo("urn:onion-relay:problem:store-unavailable");
                assertThat(refused.header("Retry-After")).isNotNull();
                assertThat(api(0).delete("/relays/steady").status()).isEqualTo(503);

                ApiClient.Response read = api(2).get("/relays/steady");
                assertThat(read.status()).isEqualTo(200);
                assertThat(read.header("Onion-Store-Stale"))
                        .as("a read says it may be stale")
                        .isNotNull();

                fleet.get(2).stop();
                fleet.get(2).start();
                restarted = true;
                assertThat(api(2).get("/relays/steady").status())
                        .as("served from the snapshot")
                        .isEqualTo(200);
                assertThat(plainEcho(ADDRESSES[2], port, 1 << 20)).isTrue();
                // The outage lasts at least OUTAGE, bytes flowing through B all along.
                long left = OUTAGE.toNanos() - (System.nanoTime() - stoppedAt);
                if (left > 0) {
                    TimeUnit.NANOSECONDS.sleep(left);
                }
                assertThat(stream.received())
                        .as("bytes still flow during the outage")
                        .isPositive();
            } finally {
                cluster.start();
            }
            assertThat(restarted).isTrue();
            await().atMost(Duration.ofSeconds(20)).untilAsserted(() -> {
                for (ServiceProcess instance : fleet) {
                    JsonNode health =
                            instance.management().get("/actuator/health").json();
                    assertThat(health.at("/components/store/status").asString()).isEqualTo("UP");
                }
            });
            ApiClient.Response after = api(1).post("/relays", """
                    {"name":"after-outage","listen":{"host":"127.0.0.1","port":%d},"target":{"host":"127.0.0.1","port":%d}}""".formatted(freePortOnAll(), echo.port()));
            assertThat(after.status()).as(after.toString()).isEqualTo(201);
            String id = after.json().get("id").asString();
            await().atMost(Duration.ofSeconds(2))
                    .pollInterval(Duration.ofMillis(50))
                    .untilAsserted(() -> {
                        for (int i = 0; i < 3; i++) {
                            assertThat(api(i).get("/relays/" + id).status()).isEqualTo(200);
                        }
                    });
            assertThat(stream.finish())
                    .as("every byte sent through B during the outage came back")
                    .isTrue();
        }
    }

    @Test
    @Order(5)
    void anInstanceWithAnotherKeyEncryptionKeyStopsWithOneLineNamingTheProblem() throws Exception {
        byte[] other = new byte[32];
        new SecureRandom().nextBytes(other);
        Path otherKey = Files.write(dir.resolve("other-kek"), other);
        Path log = dir.resolve("instance-wrong-key.log");
        ServiceProcess wrong = new ServiceProcess(
                dir.resolve("state-wrong"),
                log,
                "--onion.store.type=postgres",
                "--spring.datasource.url=" + url,
                "--spring.datasource.username=" + PgCluster.USER,
                "--spring.datasource.password=" + PgCluster.PASSWORD,
                "--onion.store.encryption-key-file=" + otherKey);
        try {
            org.assertj.core.api.Assertions.assertThatThrownBy(wrong::start).hasMessageContaining("the service exited");
            assertThat(wrong.exitCode()).isEqualTo(1);
        } finally {
            wrong.close();
        }
        String output = Files.readString(log);
        assertThat(output)
                .containsPattern("onion.store.encryption-key-file does not decrypt the stored credentials \\(key id"
                        + " [0-9a-f]{16}; the store was written with key id [0-9a-f]{16}\\)");
        assertThat(output).as("no stack trace").doesNotContain("\tat dev.onionrelay", "\tat org.springframework");
    }

    /** A plain echo of {@code bytes} to {@code host}. */
    private static boolean plainEcho(String host, int port, long bytes) throws Exception {
        try (Socket socket = new Socket(host, port)) {
            socket.setSoTimeout(60_000);
            return echo(socket, bytes);
        }
    }

    private static Set<String> relays(int i) {
        Set<String> ids = new TreeSet<>();
        for (JsonNode relay : api(i).get("/relays").json()) {
            ids.add(relay.get("id").asString() + " " + relay.get("name").asString());
        }
        return ids;
    }

    /** TLS to the relay's ingress layer (trusting the fleet CA), then a checked echo of {@code bytes}. */
    private static boolean tlsEcho(String host, int port, long bytes) throws Exception {
        return TlsEcho.run(host, port, pki.get("fleet-ca").leaf(), bytes).intact();
    }

    /** Sends {@code bytes} while reading them back; true when all came back unchanged. */
    private static boolean echo(Socket socket, long bytes) throws Exception {
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
                out.flush();
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        });
        MessageDigest received = MessageDigest.getInstance("SHA-256");
        InputStream in = socket.getInputStream();
        byte[] buffer = new byte[64 * 1024];
        long total = 0;
        while (total < bytes) {
            int n = in.read(buffer, 0, (int) Math.min(buffer.length, bytes - total));
            if (n < 0) {
                break;
            }
            received.update(buffer, 0, n);
            total += n;
        }
        writer.get();
        return total == bytes && MessageDigest.isEqual(sent.digest(), received.digest());
    }

    private static boolean accepts(String host, int port) {
        try (Socket socket = new Socket()) {
            socket.connect(new InetSocketAddress(host, port), 500);
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    /** A port free on the three instances' addresses, outside the ephemeral range (see {@link FixedPorts}). */
    static int freePortOnAll() throws IOException {
        return FixedPorts.freeOnAll(ADDRESSES);
    }
}
