package dev.onionrelay.fleet;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.onionrelay.support.ApiClient;
import dev.onionrelay.support.EchoServer;
import dev.onionrelay.support.FixedPorts;
import dev.onionrelay.support.Fleet;
import dev.onionrelay.support.PgCluster;
import dev.onionrelay.support.Scenario;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import tools.jackson.databind.JsonNode;

/**
 * Rules that span instances, kept by the database: calls that reach different instances at the same moment never
 * break them. Three service processes (a, b, c on 127.0.0.1, .2, .3) on one PostgreSQL, reused by both scenarios.
 */
@Scenario
class FleetWideRulesTest {

    static final int CREDENTIAL_ROUNDS = 40;
    static final int PORT_ROUNDS = 20;

    @TempDir
    static Path dir;

    static PgCluster cluster;
    static Fleet fleet;
    static EchoServer echo;
    static ExecutorService callers;

    @BeforeAll
    static void startFleet() throws Exception {
        cluster = PgCluster.create();
        echo = new EchoServer();
        fleet = new Fleet(cluster, dir, "rules", "--onion.limits.max-relays=128");
        fleet.start("a", "b", "c");
        callers = Executors.newFixedThreadPool(3);
    }

    @AfterAll
    static void stopFleet() throws IOException {
        if (callers != null) {
            callers.shutdownNow();
        }
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
    void aRelayCreateOnOneInstanceAndADeleteOfItsCredentialOnAnotherNeverBothSucceed() throws Exception {
        ApiClient a = fleet.admin("a");
        ApiClient b = fleet.admin("b");
        ApiClient c = fleet.admin("c");
        int created = 0;
        List<String> outcomes = new ArrayList<>();
        for (int round = 0; round < CREDENTIAL_ROUNDS; round++) {
            String credential = "race-ca-" + round;
            ApiClient.Response ca = a.post("/credentials", Map.of("name", credential, "generate", Map.of("ca", true)));
            assertThat(ca.status()).as(ca.toString()).isEqualTo(201);
            await().atMost(Fleet.PROPAGATION)
                    .until(() -> c.get("/credentials/" + credential).status() == 200
                            && b.get("/credentials/" + credential).status() == 200);
            String relay = """
                    {"name":"uses-%s","listen":{"host":"127.0.0.1","port":%d},"target":{"host":"127.0.0.1","port":%d},
                     "egress":[{"name":"outer","trust":"%s","serverName":"localhost"}]}""".formatted(credential, freePortOnAll(), echo.port(), credential);
            List<ApiClient.Response> answers =
                    together(() -> c.post("/relays", relay), () -> b.delete("/credentials/" + credential));
            ApiClient.Response create = answers.get(0);
            ApiClient.Response delete = answers.get(1);
            boolean createWon = create.status() == 201;
            outcomes.add(create.status() + "/" + delete.status());
            assertThat(createWon && delete.status() == 204)
                    .as("round %d: both succeeded: %s / %s", round, create, delete)
                    .isFalse();
            // The create loses with 400 when the delete reached c before it, 409 when the store refused it.
            assertThat(createWon ? List.of(delete.status()) : List.of(create.status(), delete.status()))
                    .as("round %d: exactly one succeeds: %s / %s", round, create, delete)
                    .isIn(List.of(409), List.of(400, 204), List.of(409, 204));
            if (createWon) {
                created++;
                assertThat(delete.body()).contains("uses-" + credential);
            } else {
                assertThat(create.body()).as("names the credential").contains("'" + credential + "'");
            }
        }
        int expected = created;
        await().atMost(Fleet.PROPAGATION).untilAsserted(() -> {
            for (String instance : List.of("a", "b", "c")) {
                List<JsonNode> relays = relaysNamed(instance, "uses-");
                assertThat(relays)
                        .as("instance %s (outcomes %s)", instance, outcomes)
                        .hasSize(expected);
                for (JsonNode relay : relays) {
                    assertThat(relay.get("state").asString())
                            .as("on " + instance + ": " + relay)
                            .isEqualTo("LISTENING");
                }
            }
        });
    }

    @Test
    void ofThreeRelaysCreatedOnOnePortThroughThreeInstancesAtOnceOneGetsItAndTheOthersAreToldWho() throws Exception {
        for (int round = 0; round < PORT_ROUNDS; round++) {
            int port = freePortOnAll();
            List<Supplier<ApiClient.Response>> creates = new ArrayList<>();
            for (String instance : List.of("a", "b", "c")) {
                String body = """
                        {"name":"port-%d-%s","listen":{"host":"127.0.0.1","port":%d},"target":{"host":"127.0.0.1","port":%d}}""".formatted(round, instance, port, echo.port());
                ApiClient client = fleet.admin(instance);
                creates.add(() -> client.post("/relays", body));
            }
            List<ApiClient.Response> answers = together(creates.toArray(Supplier[]::new));
            List<Integer> statuses =
                    answers.stream().map(ApiClient.Response::status).toList();
            assertThat(statuses).as("round %d: %s", round, answers).containsExactlyInAnyOrder(201, 409, 409);
            String winner = answers.stream()
                    .filter(answer -> answer.status() == 201)
                    .findFirst()
                    .orElseThrow()
                    .json()
                    .get("name")
                    .asString();
            for (ApiClient.Response answer : answers) {
                if (answer.status() == 409) {
                    assertThat(answer.body()).as("names the holder").contains("'" + winner + "'");
                }
            }
        }
        await().atMost(Fleet.PROPAGATION).untilAsserted(() -> {
            for (String instance : List.of("a", "b", "c")) {
                List<JsonNode> relays = relaysNamed(instance, "port-");
                assertThat(relays).as("instance " + instance).hasSize(PORT_ROUNDS);
                for (JsonNode relay : relays) {
                    assertThat(relay.get("state").asString())
                            .as("on " + instance + ": " + relay)
                            .isEqualTo("LISTENING");
                }
            }
        });
    }

    /** The calls started at the same moment, each on its own thread; their answers in the same order. */
    @SafeVarargs
    private static List<ApiClient.Response> together(Supplier<ApiClient.Response>... calls) throws Exception {
        CyclicBarrier start = new CyclicBarrier(calls.length);
        List<Future<ApiClient.Response>> pending = new ArrayList<>();
        for (Supplier<ApiClient.Response> call : calls) {
            pending.add(callers.submit(() -> {
                start.await();
                return call.get();
            }));
        }
        List<ApiClient.Response> answers = new ArrayList<>();
        for (Future<ApiClient.Response> answer : pending) {
            answers.add(answer.get());
        }
        return answers;
    }

    private static List<JsonNode> relaysNamed(String instance, String prefix) {
        List<JsonNode> found = new ArrayList<>();
        for (JsonNode relay : fleet.admin(instance).get("/relays").json()) {
            if (relay.get("name").asString().startsWith(prefix)) {
                found.add(relay);
            }
        }
        return found;
    }

    /** A port free on the three instances' addresses, outside the ephemeral range (see {@link FixedPorts}). */
    static int freePortOnAll() throws IOException {
        return FixedPorts.freeOnAll("127.0.0.1", "127.0.0.2", "127.0.0.3");
    }
}
