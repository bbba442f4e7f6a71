package dev.onionrelay.deploy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

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
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import tools.jackson.databind.JsonNode;

/**
 * The backup and restore procedures of DEPLOYMENT.md, each run as written: for the postgres store, {@code pg_dump} of
 * the running fleet's database plus its key-encryption key file, restored with {@code pg_restore} into a new database;
 * for the file store, a copy of the state directory. An instance started on the restored copy (and a fresh state
 * directory, for postgres) serves the same relays (ids, names, ports) and the same credentials (the same certificate
 * SHA-256), and a TLS tunnel through the restored relay presents that certificate and carries bytes end to end.
 */
@Scenario
class BackupRestoreTest {

    @TempDir
    Path dir;

    private final TestPki pki = new TestPki();
    private final Credential ca = pki.ca("backup-ca");
    private final Credential hop = pki.leaf("hop", "backup-ca", List.of("localhost"), List.of("127.0.0.1"));

    @Test
    void aPgDumpAndTheKeyFileRestoreIntoAFreshDatabaseServingTheSameRelaysAndCredentials() throws Exception {
        Path original = Files.createDirectories(dir.resolve("original"));
        try (PgCluster cluster = PgCluster.create();
                EchoServer echo = new EchoServer();
                Fleet fleet = new Fleet(cluster, original, "original")) {
            fleet.start("a");
            Served before = populate(fleet.admin("a"), echo);

            Path backup = Files.createDirectories(dir.resolve("backup"));
            cluster.dump("original", backup.resolve("onion.dump"));
            Files.copy(fleet.keyFile(), backup.resolve("store.key"));
            fleet.close(); // the original is gone; its relay ports are free again

            String restoredUrl = cluster.createDatabase("restored");
            cluster.restore(backup.resolve("onion.dump"), "restored");
            ServiceProcess restored = new ServiceProcess(
                    Files.createDirectories(dir.resolve("restored-state")),
                    dir.resolve("restored.log"),
                    "--onion.store.type=postgres",
                    "--spring.datasource.url=" + restoredUrl,
                    "--spring.datasource.username=" + PgCluster.USER,
                    "--spring.datasource.password=" + PgCluster.PASSWORD,
                    "--onion.store.encryption-key-file=" + backup.resolve("store.key"),
                    "--onion.api.tokens[0].name=admin",
                    "--onion.api.tokens[0].scope=admin",
                    "--onion.api.tokens[0].secret=" + Fleet.ADMIN_TOKEN);
            try (restored) {
                restored.start();
                assertServesTheSame(new ApiClient(restored.apiPort(), Fleet.ADMIN_TOKEN), before);
            }
        }
    }

    @Test
    void aCopyOfTheFileStoresStateDirectoryRestoresServingTheSameRelaysAndCredentials() throws Exception {
        Path state = Files.createDirectories(dir.resolve("state"));
        try (EchoServer echo = new EchoServer()) {
            ServiceProcess original = new ServiceProcess(state, dir.resolve("original.log"));
            Served before;
            Path copy = dir.resolve("state-copy");
            try (original) {
                original.start();
                before = populate(original.api(), echo);
                copyTree(state, copy); // while it runs: each file is replaced atomically by the service
            }
            ServiceProcess restored = new ServiceProcess(copy, dir.resolve("restored.log"));
            try (restored) {
                restored.start();
                assertThat(restored.api().get("/relays").status())
                        .as("the admin token came with the directory")
                        .isEqualTo(200);
                assertServesTheSame(restored.api(), before);
            }
        }
    }

    /** What the original served: relays (id, name, port), credentials by name with their SHA-256, the relay port. */
    private record Served(List<String> relays, Map<String, String> credentials, int port) {}

    private Served populate(ApiClient api, EchoServer echo) throws Exception {
        ApiClient.Response imported = api.post(
                "/credentials",
                Map.of(
                        "name", "hop",
                        "certificate", PemCodec.certificatesToPem(hop.chain()),
                        "privateKey", PemCodec.privateKeyToPem(hop.privateKey())));
        assertThat(imported.status()).as(imported.toString()).isEqualTo(201);
        assertThat(api.post("/credentials", Map.of("name", "generated-ca", "generate", Map.of("ca", true)))
                        .status())
                .isEqualTo(201);
        int port = LocalServers.freePort();
        ApiClient.Response relay = api.post("/relays", """
                {"name":"exit","listen":{"host":"127.0.0.1","port":%d},
                 "target":{"host":"127.0.0.1","port":%d},"ingress":[{"credential":"hop"}]}""".formatted(port, echo.port()));
        assertThat(relay.status()).as(relay.toString()).isEqualTo(201);
        TlsEcho.Result tunnel = TlsEcho.run("127.0.0.1", port, ca.leaf(), 1 << 16);
        assertThat(tunnel.intact()).isTrue();
        Served served = new Served(relays(api), credentials(api), port);
        assertThat(tunnel.presentedSha256()).isEqualTo(served.credentials().get("hop"));
        return served;
    }

    private void assertServesTheSame(ApiClient api, Served before) throws Exception {
        await().atMost(Fleet.PROPAGATION).untilAsserted(() -> {
            assertThat(relays(api)).isEqualTo(before.relays());
            assertThat(api.get("/relays/exit").json().get("state").asString()).isEqualTo("LISTENING");
        });
        assertThat(credentials(api)).isEqualTo(before.credentials());
        TlsEcho.Result tunnel = TlsEcho.run("127.0.0.1", before.port(), ca.leaf(), 1 << 20);
        assertThat(tunnel.presentedSha256()).isEqualTo(before.credentials().get("hop"));
        assertThat(tunnel.intact()).isTrue();
    }

    private static List<String> relays(ApiClient api) {
        List<String> relays = new java.util.ArrayList<>();
        for (JsonNode relay : api.get("/relays").json()) {
            relays.add(relay.get("id").asString() + " " + relay.get("name").asString() + " "
                    + relay.get("listen").get("port").asInt());
        }
        relays.sort(null);
        return relays;
    }

    private static Map<String, String> credentials(ApiClient api) {
        Map<String, String> byName = new TreeMap<>();
        for (JsonNode credential : api.get("/credentials").json()) {
            byName.put(
                    credential.get("name").asString(), credential.get("sha256").asString());
        }
        return byName;
    }

    /** {@code cp -a}: files with their permissions (keys stay 0600). */
    private static void copyTree(Path from, Path to) throws IOException {
        try (Stream<Path> paths = Files.walk(from)) {
            for (Path path : paths.toList()) {
                Path target = to.resolve(from.relativize(path).toString());
                try {
                    Files.copy(path, target, StandardCopyOption.COPY_ATTRIBUTES);
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            }
        }
    }
}
