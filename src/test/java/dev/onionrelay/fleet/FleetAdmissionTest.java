package dev.onionrelay.fleet;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.onionrelay.support.ApiClient;
import dev.onionrelay.support.EchoServer;
import dev.onionrelay.support.PgCluster;
import dev.onionrelay.support.Scenario;
import dev.onionrelay.support.ServiceProcess;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.SecureRandom;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;
import tools.jackson.databind.JsonNode;

/**
 * An instance becomes a member of its fleet, and takes writes, only once it has checked its encryption key and API
 * tokens against the store; a store that answers but cannot be used is a configuration error, named, never a 500.
 * One PostgreSQL and one good instance ({@code g}, no tokens configured: the fleet's admin token lives in the store)
 * for the class; the scenarios run in order, the last one damages the schema.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
@Scenario
class FleetAdmissionTest {

    static final String KEY_MISMATCH = "onion.store.encryption-key-file does not decrypt the stored credentials";

    @TempDir
    static Path dir;

    static PgCluster cluster;
    static String url;
    static Path key;
    static EchoServer echo;
    static ServiceProcess good;
    static final List<ServiceProcess> started = new ArrayList<>();

    @BeforeAll
    static void startFleet() throws IOException {
        cluster = PgCluster.create();
        url = cluster.createDatabase("admission");
        key = writeKey("fleet.key");
        echo = new EchoServer();
        good = instance("g", key, PgCluster.PASSWORD);
        good.start();
        ApiClient api = good.api();
        assertThat(api.post("/credentials", Map.of("name", "ca", "generate", Map.of("ca", true)))
                        .status())
                .isEqualTo(201);
        assertThat(api.post("/relays", """
                        {"name":"r1","listen":{"host":"127.0.0.1","port":0},"target":{"host":"127.0.0.1","port":%d}}""".formatted(echo.port())).status()).isEqualTo(201);
        await().atMost(Duration.ofSeconds(10))
                .until(() -> Files.readString(good.stateDir().resolve("store-snapshot.json"))
                        .contains("r1"));
    }

    @AfterAll
    static void stopAll() throws IOException {
        started.forEach(ServiceProcess::close);
        if (echo != null) {
            echo.close();
        }
        if (cluster != null) {
            cluster.close();
        }
    }

    @Test
    @Order(1)
    void withTheDatabaseUpAnInstanceWithAnotherKeyExitsWithOneLineNamingTheMismatch() throws IOException {
        ServiceProcess wrong = instance("w-up", writeKey("other-up.key"), PgCluster.PASSWORD);
        assertExitsWithOneLine(wrong, "w-up", KEY_MISMATCH);
    }

    @Test
    @Order(2)
    void joiningDuringAnOutageNeitherAWrongKeyNorAMissingTokenIsAdmittedAndTheFleetsTokenIsAdoptedLater()
            throws Exception {
        String fleetToken =
                Files.readString(good.stateDir().resolve("admin.token")).trim();
        List<String> relaysBefore = names("/relays");
        List<String> credentialsBefore = names("/credentials");
        ServiceProcess noTokens = instance("n", key, PgCluster.PASSWORD);
        ServiceProcess wrongKey = instance("w", writeKey("other.key"), PgCluster.PASSWORD);
        // w has what a good instance leaves behind: its snapshot and the fleet's token file.
        Files.createDirectories(wrongKey.stateDir());
        for (String file : List.of("store-snapshot.json", "admin.token")) {
            Files.copy(
                    good.stateDir().resolve(file),
                    wrongKey.stateDir().resolve(file),
                    StandardCopyOption.REPLACE_EXISTING);
        }
        ApiClient n = new ApiClient(noTokens.apiPort(), fleetToken);
        ApiClient w = new ApiClient(wrongKey.apiPort(), fleetToken);

        cluster.stop();
        try {
            CompletableFuture.allOf(
                            CompletableFuture.runAsync(noTokens::start), CompletableFuture.runAsync(wrongKey::start))
                    .join();
            for (ServiceProcess instance : List.of(noTokens, wrongKey)) {
                assertThat(readiness(instance))
                        .as("not ready during the outage")
                        .isEqualTo(503);
            }
            assertThat(n.get("/relays").status())
                    .as("no token of its own, and the fleet's not read yet")
                    .isEqualTo(401);
            ApiClient.Response stale = w.get("/relays");
            assertThat(stale.status()).isEqualTo(200);
            assertThat(stale.body()).as("from the snapshot").contains("\"r1\"");
            assertThat(stale.header("Onion-Store-Stale")).isNotNull();
            assertThat(w.delete("/relays/r1").status()).isEqualTo(503);
        } finally {
            cluster.start();
        }

        await().atMost(Duration.ofSeconds(60)).until(() -> readiness(noTokens) == 200);
        assertThat(n.get("/relays").status()).as("the fleet's token").isEqualTo(200);
        assertThat(n.withToken("a-token-of-its-own").get("/relays").status()).isEqualTo(401);
        assertThat(Files.readString(noTokens.stateDir().resolve("admin.token")).trim())
                .isEqualTo(fleetToken);

        await().atMost(Duration.ofSeconds(60)).untilAsserted(() -> assertThat(wrongKey.management()
                        .get("/actuator/health")
                        .json()
                        .at("/components/fleetAdmission/details/reason")
                        .asString())
                .contains(KEY_MISMATCH));
        assertThat(readiness(wrongKey)).isEqualTo(503);
        List<ApiClient.Response> writes = List.of(
                w.post("/credentials", Map.of("name", "sealed-elsewhere", "generate", Map.of("ca", true))),
                w.post("/relays", """
                        {"name":"r2","listen":{"host":"127.0.0.1","port":0},"target":{"host":"127.0.0.1","port":%d}}""".formatted(echo.port())),
                w.delete("/relays/r1"),
                w.delete("/credentials/ca"));
        for (ApiClient.Response write : writes) {
            assertThat(write.status()).as(write.toString()).isEqualTo(503);
            assertThat(write.contentType()).startsWith("application/problem+json");
            assertThat(write.body()).contains(KEY_MISMATCH);
        }
        await().atMost(Duration.ofSeconds(30))
                .untilAsserted(() -> assertThat(members()).containsExactly("g", "n"));
        assertThat(members()).as("never a member").doesNotContain("w");
        assertThat(names("/relays")).as("the fleet's data unchanged").isEqualTo(relaysBefore);
        assertThat(names("/credentials")).isEqualTo(credentialsBefore);
    }

    @Test
    @Order(3)
    void aPasswordTheDatabaseRefusesIsAConfigurationErrorAtStartAndWhileRunning() throws Exception {
        // Refused with either password the role has in this test: it starts beside the running instance's checks.
        CompletableFuture<Void> badPassword = exitsWithOneLine(
                instance("bad-password", key, "not-the-password"), "bad-password", "the store refused authentication");

        // As after a restart with another password: every connection of the instance must log in again.
        sql("ALTER ROLE " + PgCluster.USER + " PASSWORD 'changed-password'", PgCluster.PASSWORD);
        sql(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid <> pg_backend_pid()"
                        + " AND usename = '" + PgCluster.USER + "'",
                "changed-password");
        try {
            assertConfigurationError("the store refused authentication");
        } finally {
            sql("ALTER ROLE " + PgCluster.USER + " PASSWORD '" + PgCluster.PASSWORD + "'", "changed-password");
        }
        badPassword.join();
        await().atMost(Duration.ofSeconds(30)).until(() -> storeState().equals("UP"));
        assertThat(good.api()
                        .post("/credentials", Map.of("name", "after-password", "generate", Map.of("ca", true)))
                        .status())
                .isEqualTo(201);
    }

    @Test
    @Order(4)
    void aSchemaNewerThanThisVersionIsAConfigurationErrorAtStartAndWhileRunning() throws Exception {
        sql(
                "INSERT INTO flyway_schema_history (installed_rank, version, description, type, script, checksum,"
                        + " installed_by, execution_time, success) SELECT max(installed_rank) + 1, '99', 'future', 'SQL',"
                        + " 'V99__future.sql', 0, 'test', 0, true FROM flyway_schema_history",
                PgCluster.PASSWORD);
        CompletableFuture<Void> tooOld = exitsWithOneLine(
                instance("too-old", key, PgCluster.PASSWORD), "too-old", "newer than this version knows");
        assertConfigurationError("newer than this version knows");
        tooOld.join(); // before the newer schema goes
        sql("DELETE FROM flyway_schema_history WHERE version = '99'", PgCluster.PASSWORD);
        await().atMost(Duration.ofSeconds(30)).until(() -> storeState().equals("UP"));
    }

    @Test
    @Order(5)
    void aDroppedTableIsAConfigurationErrorAtStartAndWhileRunning() throws Exception {
        sql("DROP TABLE changes", PgCluster.PASSWORD);
        CompletableFuture<Void> damaged =
                exitsWithOneLine(instance("damaged", key, PgCluster.PASSWORD), "damaged", "table changes is missing");
        assertConfigurationError("table changes is missing");
        damaged.join();
    }

    /** The running good instance names the problem in health and one log line, and refuses writes with 503. */
    private static void assertConfigurationError(String problem) throws IOException {
        await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> {
            JsonNode store = good.management().get("/actuator/health").json().at("/components/store");
            assertThat(store.at("/details/state").asString()).isEqualTo("CONFIGURATION_ERROR");
            assertThat(store.at("/details/reason").asString()).contains(problem);
        });
        ApiClient.Response write =
                good.api().post("/credentials", Map.of("name", "refused", "generate", Map.of("ca", true)));
        assertThat(write.status()).as(write.toString()).isEqualTo(503);
        assertThat(write.body()).contains(problem);
        List<String> log = Files.readAllLines(dir.resolve("g.log"));
        int named = 0;
        for (int i = 0; i < log.size(); i++) {
            if (log.get(i).contains("store configuration error") && log.get(i).contains(problem)) {
                named++;
                // (HikariCP logs a trace of its own when a connection breaks; the named problem has none)
                assertThat(i + 1 < log.size() ? log.get(i + 1) : "")
                        .as("no stack trace after: " + log.get(i))
                        .doesNotStartWith("\tat ")
                        .doesNotStartWith("org.")
                        .doesNotStartWith("java.");
            }
        }
        assertThat(named).as("named in the log").isPositive();
        assertThat(good.management().get("/actuator/health/readiness").status())
                .as("relays keep serving: still ready")
                .isEqualTo(200);
    }

    /**
     * {@link #assertExitsWithOneLine} while the caller goes on (a JVM that starts and exits takes seconds; the running
     * instance's checks need not wait for it); {@code join()} fails as the assertion would.
     */
    private static CompletableFuture<Void> exitsWithOneLine(ServiceProcess instance, String name, String line) {
        return CompletableFuture.runAsync(() -> {
            try {
                assertExitsWithOneLine(instance, name, line);
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        });
    }

    private static void assertExitsWithOneLine(ServiceProcess instance, String name, String line) throws IOException {
        assertThatThrownBy(instance::start).hasMessageContaining("the service exited");
        assertThat(instance.exitCode()).isEqualTo(1);
        String output = Files.readString(dir.resolve(name + ".log"));
        assertThat(output).contains(line);
        assertThat(output).as("no stack trace").doesNotContain("\tat ");
    }

    private static String storeState() {
        return good.management()
                .get("/actuator/health")
                .json()
                .at("/components/store/details/state")
                .asString();
    }

    private static int readiness(ServiceProcess instance) {
        return instance.management().get("/actuator/health/readiness").status();
    }

    /** What the good instance lists at {@code path}: each entry's id (if any) and name. */
    private static List<String> names(String path) {
        List<String> names = new ArrayList<>();
        for (JsonNode entry : good.api().get(path).json()) {
            names.add((entry.has("id") ? entry.get("id").asString() + " " : "")
                    + entry.get("name").asString());
        }
        return names;
    }

    private static List<String> members() {
        List<String> names = new ArrayList<>();
        for (JsonNode member : good.api().get("/fleet/members").json()) {
            names.add(member.get("name").asString());
        }
        return names;
    }

    private static int nextAddress = 1;

    /** An instance on a loopback address of its own (127.0.0.1, .2, …), so that relays do not clash between them. */
    private static ServiceProcess instance(String name, Path keyFile, String password) {
        String bindAddress = "127.0.0." + nextAddress++;
        ServiceProcess instance = new ServiceProcess(dir.resolve("state-" + name), dir.resolve(name + ".log"));
        instance.withArgs(
                "--onion.store.type=postgres",
                "--spring.datasource.url=" + url,
                "--spring.datasource.username=" + PgCluster.USER,
                "--spring.datasource.password=" + password,
                "--onion.store.encryption-key-file=" + keyFile,
                "--onion.store.resync=1s",
                // A member is listed from its first heartbeat (every third of the lease): 1 s instead of 3.3 s.
                "--onion.fleet.lease=3s",
                "--onion.fleet.instance-name=" + name,
                "--onion.fleet.bind-address=" + bindAddress,
                "--onion.fleet.advertise-url=http://127.0.0.1:" + instance.apiPort());
        started.add(instance);
        return instance;
    }

    private static Path writeKey(String file) throws IOException {
        byte[] bytes = new byte[32];
        new SecureRandom().nextBytes(bytes);
        return Files.writeString(dir.resolve(file), Base64.getEncoder().encodeToString(bytes));
    }

    private static void sql(String statement, String password) throws SQLException {
        try (Connection connection = DriverManager.getConnection(url, PgCluster.USER, password);
                Statement run = connection.createStatement()) {
            run.execute(statement);
        }
    }
}
