package dev.onionrelay.fleet;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;
import static org.awaitility.Awaitility.await;

import dev.onionrelay.boot.StoreResealCommand;
import dev.onionrelay.credential.Credential;
import dev.onionrelay.credential.PemCodec;
import dev.onionrelay.support.ApiClient;
import dev.onionrelay.support.EchoServer;
import dev.onionrelay.support.Fleet;
import dev.onionrelay.support.LocalServers;
import dev.onionrelay.support.PgCluster;
import dev.onionrelay.support.Scenario;
import dev.onionrelay.support.ServiceProcess;
import dev.onionrelay.support.TestPki;
import dev.onionrelay.support.TlsEcho;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import tools.jackson.databind.JsonNode;

/**
 * Rotating the fleet's key-encryption key as DEPLOYMENT.md says, on real processes and a real PostgreSQL: an instance
 * with the old key and one with the new key (the old as previous) serve side by side; {@code --onion.store.reseal}
 * moves every sealed row to the new key while both serve; then an instance with the new key alone serves every
 * credential (same certificates, a TLS tunnel presents the same one), an instance with the old key alone is refused,
 * and the old-key instance left running names the problem and keeps its tunnels.
 */
@Scenario
class KeyRotationTest {

    @TempDir
    Path dir;

    private final List<ServiceProcess> started = new ArrayList<>();

    @Test
    void theFleetMovesToANewKeyWithoutDowntimeAndTheOldKeyIsRemovableAfterwards() throws Exception {
        Path oldKey = writeKey("old.key");
        Path newKey = writeKey("new.key");
        TestPki pki = new TestPki();
        Credential ca = pki.ca("rotation-ca");
        Credential hop = pki.leaf("hop", "rotation-ca", List.of("localhost"), List.of("127.0.0.1", "127.0.0.2"));
        try (PgCluster cluster = PgCluster.create();
                EchoServer echo = new EchoServer()) {
            String url = cluster.createDatabase("rotation");
            ServiceProcess a = instance(url, "a", 1, oldKey);
            ServiceProcess b = instance(url, "b", 2, newKey, oldKey);
            // The fleet exists under the old key before the rotation begins (the first instance picks the key).
            a.start();
            b.start();

            ApiClient onA = admin(a);
            assertThat(onA.post(
                                    "/credentials",
                                    Map.of(
                                            "name", "hop",
                                            "certificate", PemCodec.certificatesToPem(hop.chain()),
                                            "privateKey", PemCodec.privateKeyToPem(hop.privateKey())))
                            .status())
                    .isEqualTo(201);
            assertThat(admin(b).post("/credentials", Map.of("name", "made-on-b", "generate", Map.of("ca", true)))
                            .status())
                    .as("the instance holding the new key writes during the rotation")
                    .isEqualTo(201);
            int port = LocalServers.freePort();
            assertThat(onA.post("/relays", """
                            {"name":"exit","listen":{"host":"127.0.0.1","port":%d},
                             "target":{"host":"127.0.0.1","port":%d},"ingress":[{"credential":"hop"}]}""".formatted(port, echo.port())).status())
                    .isEqualTo(201);
            Map<String, String> fingerprints = fingerprints(onA);
            await().atMost(Fleet.PROPAGATION).untilAsserted(() -> {
                assertThat(fingerprints(admin(a))).as("a opens what b sealed").isEqualTo(fingerprints(admin(b)));
                assertThat(fingerprints(admin(a))).containsKey("made-on-b");
            });
            for (String host : List.of("127.0.0.1", "127.0.0.2")) {
                await().atMost(Fleet.PROPAGATION)
                        .ignoreExceptions()
                        .until(() -> TlsEcho.run(host, port, ca.leaf(), 1 << 16).intact());
            }
            assertThat(keyIds(url)).as("before: all under the old key").containsOnlyKeys(idOf(oldKey));
            String oldId = idOf(oldKey);

            assertThat(StoreResealCommand.run(new String[] {
                        "--onion.store.reseal",
                        "--spring.datasource.url=" + url,
                        "--spring.datasource.username=" + PgCluster.USER,
                        "--spring.datasource.password=" + PgCluster.PASSWORD,
                        "--onion.store.encryption-key-file=" + newKey,
                        "--onion.store.previous-encryption-key-files=" + oldKey
                    }))
                    .isEqualTo(0);
            Map<String, Integer> after = keyIds(url);
            assertThat(after)
                    .as("no row sealed under the old key id")
                    .doesNotContainKey(oldId)
                    .hasSize(1);

            b.stop();
            ServiceProcess newOnly = instance(url, "b", 2, newKey);
            ServiceProcess oldOnly = instance(url, "c", 3, oldKey);
            // Started beside the new-key instance (two JVMs starting at once take less than one after the other): the
            // store is resealed already, so c is refused whatever b does meanwhile.
            CompletableFuture<Throwable> oldOnlyStart =
                    CompletableFuture.supplyAsync(() -> catchThrowable(oldOnly::start));
            newOnly.start();
            ApiClient onNew = admin(newOnly);
            await().atMost(Fleet.PROPAGATION)
                    .untilAsserted(() -> assertThat(fingerprints(onNew)).isEqualTo(fingerprints));
            await().atMost(Fleet.PROPAGATION).untilAsserted(() -> assertThat(
                            onNew.get("/relays/exit").json().get("state").asString())
                    .isEqualTo("LISTENING"));
            TlsEcho.Result tunnel = TlsEcho.run("127.0.0.2", port, ca.leaf(), 1 << 20);
            assertThat(tunnel.intact()).isTrue();
            assertThat(tunnel.presentedSha256()).isEqualTo(fingerprints.get("hop"));

            assertThat(oldOnlyStart.join()).hasMessageContaining("the service exited");
            assertThat(Files.readString(dir.resolve("c.log")))
                    .contains("does not decrypt the stored credentials (key id " + oldId);

            await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> assertThat(a.management()
                            .get("/actuator/health")
                            .json()
                            .at("/components/store/details/reason")
                            .asString())
                    .as("the old-key instance left running names the key it lacks")
                    .contains("sealed under key id " + after.keySet().iterator().next()));
            assertThat(TlsEcho.run("127.0.0.1", port, ca.leaf(), 1 << 16).intact())
                    .as("and serves its last state meanwhile")
                    .isTrue();
        } finally {
            started.forEach(ServiceProcess::close);
        }
    }

    private ServiceProcess instance(String url, String name, int address, Path key, Path... previous) {
        ServiceProcess instance = new ServiceProcess(dir.resolve("state-" + name), dir.resolve(name + ".log"));
        instance.withArgs(
                "--onion.store.type=postgres",
                "--spring.datasource.url=" + url,
                "--spring.datasource.username=" + PgCluster.USER,
                "--spring.datasource.password=" + PgCluster.PASSWORD,
                "--onion.store.encryption-key-file=" + key,
                "--onion.store.resync=2s",
                "--onion.fleet.instance-name=" + name,
                "--onion.fleet.bind-address=127.0.0." + address,
                "--onion.fleet.advertise-url=http://127.0.0.1:" + instance.apiPort(),
                "--onion.api.tokens[0].name=admin",
                "--onion.api.tokens[0].scope=admin",
                "--onion.api.tokens[0].secret=" + Fleet.ADMIN_TOKEN);
        for (int i = 0; i < previous.length; i++) {
            instance.withArgs("--onion.store.previous-encryption-key-files[" + i + "]=" + previous[i]);
        }
        started.add(instance);
        return instance;
    }

    private static ApiClient admin(ServiceProcess instance) {
        return new ApiClient(instance.apiPort(), Fleet.ADMIN_TOKEN);
    }

    private static Map<String, String> fingerprints(ApiClient api) {
        Map<String, String> byName = new TreeMap<>();
        for (JsonNode credential : api.get("/credentials").json()) {
            byName.put(
                    credential.get("name").asString(), credential.get("sha256").asString());
        }
        return byName;
    }

    private Path writeKey(String name) throws Exception {
        byte[] bytes = new byte[32];
        new SecureRandom().nextBytes(bytes);
        return Files.writeString(dir.resolve(name), Base64.getEncoder().encodeToString(bytes));
    }

    private static String idOf(Path key) {
        return dev.onionrelay.store.KeyEncryptionKey.load(key).id();
    }

    /** How many sealed rows (credentials and settings) each key id seals, straight from the database. */
    private static Map<String, Integer> keyIds(String url) throws Exception {
        Map<String, Integer> counts = new TreeMap<>();
        try (Connection connection = DriverManager.getConnection(url, PgCluster.USER, PgCluster.PASSWORD);
                PreparedStatement select = connection.prepareStatement("SELECT key_id, count(*) FROM (SELECT key_id"
                        + " FROM credentials WHERE key_id IS NOT NULL UNION ALL SELECT key_id FROM settings) k"
                        + " GROUP BY key_id");
                ResultSet row = select.executeQuery()) {
            while (row.next()) {
                counts.put(row.getString(1), row.getInt(2));
            }
        }
        return counts;
    }
}
