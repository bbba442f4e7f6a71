package dev.onionrelay.api;

import static org.assertj.core.api.Assertions.assertThat;

import dev.onionrelay.support.ApiClient;
import dev.onionrelay.support.ApiClient.Response;
import dev.onionrelay.support.RunningService;
import dev.onionrelay.support.Scenario;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import tools.jackson.databind.JsonNode;

/**
 * {@code POST /relays} naming a credential and {@code DELETE /credentials/{name}} sent at the same moment: exactly one
 * of them wins every time, so every relay references credentials that exist, and after a restart every relay listens.
 */
@Scenario
class CredentialDeleteRaceTest {

    private static final int TRIES = 30;

    @Test
    void aRelayCreateAndADeleteOfItsCredentialNeverBothSucceed(@TempDir Path state) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(2);
        try (RunningService service = new RunningService(state, "--onion.limits.max-relays=" + (TRIES + 1))) {
            ApiClient api = service.api();
            List<String> outcomes = new ArrayList<>();
            for (int i = 0; i < TRIES; i++) {
                String credential = "ca-" + i;
                assertThat(api.post("/credentials", Map.of("name", credential, "generate", Map.of("ca", true)))
                                .status())
                        .isEqualTo(201);
                CyclicBarrier start = new CyclicBarrier(2);
                int n = i;
                CompletableFuture<Response> create = CompletableFuture.supplyAsync(
                        () -> {
                            await(start);
                            return api.post(
                                    "/relays",
                                    Map.of(
                                            "name", "relay-" + n,
                                            "target", Map.of("host", "127.0.0.1", "port", 9),
                                            "egress", List.of(Map.of("trust", credential, "serverName", "localhost"))));
                        },
                        pool);
                CompletableFuture<Response> delete = CompletableFuture.supplyAsync(
                        () -> {
                            await(start);
                            return api.delete("/credentials/" + credential);
                        },
                        pool);
                Response created = create.get(30, TimeUnit.SECONDS);
                Response deleted = delete.get(30, TimeUnit.SECONDS);
                outcomes.add(created.status() + "/" + deleted.status());
                if (created.status() == 201) {
                    assertThat(deleted.status()).as("try %d: %s", i, deleted).isEqualTo(409);
                    assertThat(deleted.contentType()).startsWith("application/problem+json");
                } else {
                    assertThat(created.status()).as("try %d: %s", i, created).isEqualTo(400);
                    assertThat(created.contentType()).startsWith("application/problem+json");
                    assertThat(deleted.status()).as("try %d: %s", i, deleted).isEqualTo(204);
                }
            }
            assertEveryRelayReferencesExistingCredentials(api);

            service.stop();
            service.start();

            ApiClient again = service.api();
            assertEveryRelayReferencesExistingCredentials(again);
            for (JsonNode relay : again.get("/relays").json()) {
                assertThat(relay.get("state").asString())
                        .as("%s after a restart (outcomes %s)", relay.get("name"), outcomes)
                        .isEqualTo("LISTENING");
            }
        } finally {
            pool.shutdownNow();
        }
    }

    private static void assertEveryRelayReferencesExistingCredentials(ApiClient api) {
        Set<String> credentials = new HashSet<>();
        for (JsonNode credential : api.get("/credentials").json()) {
            credentials.add(credential.get("name").asString());
        }
        for (JsonNode relay : api.get("/relays").json()) {
            for (JsonNode layer : relay.get("egress")) {
                assertThat(credentials)
                        .as("relay %s", relay.get("name"))
                        .contains(layer.get("trust").asString());
            }
        }
    }

    private static void await(CyclicBarrier barrier) {
        try {
            barrier.await(10, TimeUnit.SECONDS);
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }
}
