package dev.onionrelay.observe;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.onionrelay.support.ApiClient;
import dev.onionrelay.support.ApiClient.Response;
import dev.onionrelay.support.RunningService;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import tools.jackson.databind.JsonNode;

/**
 * A relay that cannot come back at restart (its port is taken) is FAILED: the {@code onion} health component and the
 * readiness group go DOWN (the instance leaves the load balancer), liveness stays UP (a restart would not help), and
 * both the actuator and the metrics say which relay and why. Deleting the relay brings readiness back.
 */
class FailedRelayHealthTest {

    @Test
    void aFailedRelayTurnsOnionHealthAndReadinessDownWhileLivenessStaysUp(@TempDir Path state) throws Exception {
        try (RunningService service = new RunningService(state)) {
            JsonNode created = service.api()
                    .post(
                            "/relays",
                            Map.of(
                                    "name",
                                    "blocked",
                                    "listen",
                                    Map.of("host", "127.0.0.1", "port", 0),
                                    "target",
                                    Map.of("host", "127.0.0.1", "port", 9)))
                    .json();
            int port = created.get("listen").get("port").asInt();
            ApiClient management = service.management();
            assertThat(component(management.get("/actuator/health"), "onion")).isEqualTo("UP");
            assertThat(management.get("/actuator/health/readiness").status()).isEqualTo(200);
            service.stop();

            try (ServerSocket squatter = new ServerSocket(port, 1, InetAddress.getLoopbackAddress())) {
                service.start();
                management = service.management();
                assertThat(service.api()
                                .get("/relays/blocked")
                                .json()
                                .get("state")
                                .asString())
                        .isEqualTo("FAILED");

                Response health = management.get("/actuator/health");
                assertThat(health.status()).as(health.toString()).isEqualTo(503);
                assertThat(health.json().get("status").asString()).isEqualTo("DOWN");
                assertThat(component(health, "onion")).isEqualTo("DOWN");

                Response readiness = management.get("/actuator/health/readiness");
                assertThat(readiness.status()).as(readiness.toString()).isEqualTo(503);
                assertThat(readiness.json().get("status").asString()).isEqualTo("DOWN");
                assertThat(component(readiness, "onion")).isEqualTo("DOWN");

                Response liveness = management.get("/actuator/health/liveness");
                assertThat(liveness.status()).as(liveness.toString()).isEqualTo(200);
                assertThat(liveness.json().get("status").asString()).isEqualTo("UP");
                assertThat(liveness.json().path("components").has("onion"))
                        .as("liveness does not depend on relays")
                        .isFalse();

                JsonNode report = management.get("/actuator/onion/blocked").json();
                assertThat(report.get("state").asString()).isEqualTo("FAILED");
                assertThat(report.get("error").asString()).contains(String.valueOf(port));

                ApiClient scraper = management;
                await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> {
                    Exposition metrics =
                            Exposition.parse(scraper.get("/actuator/prometheus").body());
                    assertThat(metrics.value("onion_relays", Map.of("state", "FAILED")))
                            .isEqualTo(1.0);
                    assertThat(metrics.value("onion_relay_state", Map.of("relay", "blocked", "state", "FAILED")))
                            .isEqualTo(1.0);
                    assertThat(metrics.value("onion_relay_state", Map.of("relay", "blocked", "state", "LISTENING")))
                            .isEqualTo(0.0);
                });

                // The operator removes the relay: the instance is ready again, and its series are gone.
                assertThat(service.api().delete("/relays/blocked").status()).isEqualTo(204);
                assertThat(management.get("/actuator/health/readiness").status())
                        .isEqualTo(200);
                assertThat(component(management.get("/actuator/health"), "onion"))
                        .isEqualTo("UP");
                await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> assertThat(Exposition.parse(
                                        scraper.get("/actuator/prometheus").body())
                                .samples("onion_relay_state", Map.of("relay", "blocked")))
                        .isEmpty());
            }
        }
    }

    private static String component(Response health, String name) {
        return health.json().get("components").get(name).get("status").asString();
    }
}
