package dev.onionrelay.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.onionrelay.support.ApiClient;
import dev.onionrelay.support.ApiClient.Response;
import dev.onionrelay.support.EchoServer;
import dev.onionrelay.support.Scenario;
import dev.onionrelay.support.ServiceProcess;
import dev.onionrelay.support.Traffic;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import tools.jackson.databind.JsonNode;

/**
 * The service killed with SIGKILL again and again while two clients create and delete credentials and relays over
 * the API, then started once more: every relay and credential it lists loads, every relay listens and carries bytes,
 * every relay's credentials exist, and the state directory holds nothing that does not belong to one of them (no
 * stray key, temporary or relay file).
 */
@Scenario
class CrashConsistencyTest {

    private static final int KILLS = 5;

    @TempDir
    Path work;

    private final AtomicInteger pairs = new AtomicInteger();
    private final AtomicInteger operations = new AtomicInteger();

    @Test
    void killedDuringCreateAndDeleteChurnItRestartsWithEverythingItListsWorkingAndNothingOrphaned() throws Exception {
        Path state = Files.createDirectory(work.resolve("state"));
        // Kept after the run (the state directory is not), for when a restart fails.
        Path log = Path.of("target", "CrashConsistencyTest-service.log");
        Files.deleteIfExists(log);
        try (EchoServer echo = new EchoServer();
                ServiceProcess service = new ServiceProcess(
                        state, log, "--onion.limits.max-relays=1000", "--onion.limits.listen-retry-max=1s")) {
            for (int kill = 0; kill < KILLS; kill++) {
                service.start();
                assertConsistent(service.api());
                ApiClient api = service.api();
                AtomicBoolean killed = new AtomicBoolean();
                List<Thread> clients = new ArrayList<>();
                for (int c = 0; c < 2; c++) {
                    Thread client = new Thread(() -> churn(api, echo.port(), killed), "churn-" + c);
                    client.start();
                    clients.add(client);
                }
                int killAfter = operations.get() + ThreadLocalRandom.current().nextInt(4, 16);
                await().atMost(Duration.ofSeconds(60)).until(() -> operations.get() >= killAfter);
                service.kill();
                killed.set(true);
                for (Thread client : clients) {
                    client.join(30_000);
                }
            }

            service.start();
            ApiClient api = service.api();
            assertConsistent(api);
            JsonNode relays = api.get("/relays").json();
            assertThat(relays.size()).as("the churn left some relays to check").isPositive();
            for (JsonNode relay : relays) {
                assertCarriesBytes(api, relay);
            }
            assertNothingOrphaned(state, api);
            assertThat(service.management().get("/actuator/health/readiness").status())
                    .isEqualTo(200);
        }
    }

    /** Random creates and deletes until the service is killed; each create is a CA, a leaf and a relay using both. */
    private void churn(ApiClient api, int echoPort, AtomicBoolean killed) {
        ThreadLocalRandom random = ThreadLocalRandom.current();
        while (!killed.get()) {
            try {
                int choice = random.nextInt(10);
                if (choice < 5 || pairs.get() == 0) {
                    int n = pairs.incrementAndGet();
                    api.post("/credentials", Map.of("name", "ca-" + n, "generate", Map.of("ca", true)));
                    api.post(
                            "/credentials",
                            Map.of(
                                    "name",
                                    "hop-" + n,
                                    "generate",
                                    Map.of(
                                            "issuer",
                                            "ca-" + n,
                                            "dnsNames",
                                            List.of("localhost"),
                                            "ipAddresses",
                                            List.of("127.0.0.1"))));
                    api.post(
                            "/relays",
                            Map.of(
                                    "name",
                                    "exit-" + n,
                                    "target",
                                    Map.of("host", "127.0.0.1", "port", echoPort),
                                    "ingress",
                                    List.of(Map.of(
                                            "credential", "hop-" + n, "trust", "ca-" + n, "clientAuth", "optional"))));
                } else if (choice < 8) {
                    api.delete("/relays/exit-" + random.nextInt(1, pairs.get() + 1));
                } else {
                    int n = random.nextInt(1, pairs.get() + 1);
                    api.delete("/credentials/hop-" + n);
                    api.delete("/credentials/ca-" + n);
                }
                operations.incrementAndGet();
            } catch (RuntimeException e) {
                // The service was killed under this request; its outcome is whatever the restart finds.
            }
        }
    }

    /** Every relay listens (after a retry at most) and names only credentials that exist. */
    private static void assertConsistent(ApiClient api) {
        Set<String> credentials = new HashSet<>();
        for (JsonNode credential : api.get("/credentials").json()) {
            credentials.add(credential.get("name").asString());
        }
        await().atMost(Duration.ofSeconds(15)).untilAsserted(() -> {
            for (JsonNode relay : api.get("/relays").json()) {
                assertThat(relay.get("state").asString()).as(relay.toString()).isEqualTo("LISTENING");
            }
        });
        for (JsonNode relay : api.get("/relays").json()) {
            for (JsonNode layer : relay.get("ingress")) {
                assertThat(credentials)
                        .as("credentials of %s", relay.get("name"))
                        .contains(
                                layer.get("credential").asString(),
                                layer.get("trust").asString());
            }
        }
    }

    /** Through a new entry relay that wraps the layer the relay peels, trusting the CA the relay's layer names. */
    private static void assertCarriesBytes(ApiClient api, JsonNode relay) throws Exception {
        JsonNode layer = relay.get("ingress").get(0);
        String entryName = "check-" + relay.get("name").asString();
        Response entry = api.post(
                "/relays",
                Map.of(
                        "name",
                        entryName,
                        "target",
                        Map.of(
                                "host",
                                "127.0.0.1",
                                "port",
                                relay.at("/listen/port").asInt()),
                        "egress",
                        List.of(Map.of("trust", layer.get("trust").asString(), "serverName", "localhost"))));
        assertThat(entry.status()).as(entry.toString()).isEqualTo(201);
        assertThat(Traffic.echo(entry.json().at("/listen/port").asInt(), 1 << 16)
                        .intact())
                .as("bytes through %s", relay.get("name"))
                .isTrue();
        assertThat(api.delete("/relays/" + entryName).status()).isEqualTo(204);
    }

    /** Each file in the state directory belongs to a listed credential or relay; no key without its certificate. */
    private static void assertNothingOrphaned(Path state, ApiClient api) throws IOException {
        Set<String> credentials = new HashSet<>();
        for (JsonNode credential : api.get("/credentials").json()) {
            credentials.add(credential.get("name").asString());
        }
        Set<String> relays = new HashSet<>();
        for (JsonNode relay : api.get("/relays").json()) {
            relays.add(relay.get("id").asString());
        }
        Set<String> credentialFiles = new HashSet<>();
        for (String file : files(state.resolve("credentials"))) {
            assertThat(file).as("a credential file").matches("[A-Za-z0-9][A-Za-z0-9._-]*\\.(crt|key)");
            credentialFiles.add(file);
            String name = file.substring(0, file.lastIndexOf('.'));
            assertThat(credentials).as("owner of %s", file).contains(name);
        }
        for (String name : credentials) {
            assertThat(credentialFiles).contains(name + ".crt");
        }
        Set<String> relayFiles = new HashSet<>(files(state.resolve("relays")));
        Set<String> expected = new HashSet<>();
        relays.forEach(id -> expected.add(id + ".json"));
        assertThat(relayFiles).isEqualTo(expected);
    }

    private static List<String> files(Path directory) throws IOException {
        try (Stream<Path> files = Files.list(directory)) {
            return files.map(file -> file.getFileName().toString()).toList();
        }
    }
}
