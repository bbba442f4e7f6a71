package dev.onionrelay.observe;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.onionrelay.support.ApiClient;
import dev.onionrelay.support.ApiClient.Response;
import dev.onionrelay.support.EchoServer;
import dev.onionrelay.support.Exposition;
import dev.onionrelay.support.RunningService;
import dev.onionrelay.support.Scenario;
import dev.onionrelay.support.Traffic;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import tools.jackson.databind.JsonNode;

/**
 * A relay that cannot come back at restart (its port is taken) is FAILED and tries to listen again with backoff. While
 * other relays serve, the {@code onion} health component is DEGRADED and readiness stays UP, so the healthy relays keep
 * their traffic; only an instance none of whose relays listens is taken out of rotation. Liveness never depends on
 * relays. The actuator, the API and the metrics say which relay failed, why and when it tries next, and follow it back
 * to LISTENING once its port is free.
 */
@Scenario
class FailedRelayHealthTest {

    private static final String[] FAST_RETRY = {
        "--onion.limits.listen-retry-initial=200ms",
        "--onion.limits.listen-retry-max=1s",
        "--management.endpoint.health.show-details=always"
    };

    @Test
    void aFailedRelayKeepsTheInstanceReadyWhileOthersServeAndListensAgainOnceItsPortIsFree(@TempDir Path state)
            throws Exception {
        try (EchoServer echo = new EchoServer();
                RunningService service = new RunningService(state, FAST_RETRY)) {
            create(service.api(), "healthy", echo.port());
            int port = create(service.api(), "blocked", echo.port());
            service.stop();

            try (ServerSocket squatter = new ServerSocket(port, 1, InetAddress.getLoopbackAddress())) {
                service.start();
                ApiClient management = service.management();
                JsonNode blocked = service.api().get("/relays/blocked").json();
                assertThat(blocked.get("state").asString()).isEqualTo("FAILED");
                assertThat(blocked.get("error").asString()).contains(String.valueOf(port), "next try at");

                Response health = management.get("/actuator/health");
                assertThat(health.status()).as(health.toString()).isEqualTo(200);
                assertThat(component(health, "onion")).isEqualTo("DEGRADED");
                assertThat(health.json()
                                .at("/components/onion/details/failed/blocked")
                                .asString())
                        .contains(String.valueOf(port), "next try at");

                Response readiness = management.get("/actuator/health/readiness");
                assertThat(readiness.status()).as(readiness.toString()).isEqualTo(200);
                assertThat(component(readiness, "onion")).isEqualTo("DEGRADED");
                assertLivenessIgnoresRelays(management);

                JsonNode report = management.get("/actuator/onion/blocked").json();
                assertThat(report.get("state").asString()).isEqualTo("FAILED");
                assertThat(report.get("error").asString()).contains(String.valueOf(port));
                assertThat(Traffic.echo(
                                        service.api()
                                                .get("/relays/healthy")
                                                .json()
                                                .at("/listen/port")
                                                .asInt(),
                                        1 << 16)
                                .intact())
                        .as("the healthy relay serves meanwhile")
                        .isTrue();
                await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> {
                    Exposition metrics = Exposition.parse(
                            management.get("/actuator/prometheus").body());
                    assertThat(metrics.value("onion_relays", Map.of("state", "FAILED")))
                            .isEqualTo(1.0);
                    assertThat(metrics.value("onion_relay_state", Map.of("relay", "blocked", "state", "FAILED")))
                            .isEqualTo(1.0);
                });
            }

            // The port is free again: the relay listens on it without anyone acting, and everything follows.
            ApiClient management = service.management();
            await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> assertThat(service.api()
                            .get("/relays/blocked")
                            .json()
                            .get("state")
                            .asString())
                    .isEqualTo("LISTENING"));
            JsonNode blocked = service.api().get("/relays/blocked").json();
            assertThat(blocked.hasNonNull("error")).as(blocked.toString()).isFalse();
            assertThat(blocked.at("/listen/port").asInt()).isEqualTo(port);
            assertThat(Traffic.echo(port, 1 << 16).intact()).isTrue();
            assertThat(component(management.get("/actuator/health"), "onion")).isEqualTo("UP");
            await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> {
                Exposition metrics =
                        Exposition.parse(management.get("/actuator/prometheus").body());
                assertThat(metrics.value("onion_relays", Map.of("state", "FAILED")))
                        .isEqualTo(0.0);
                assertThat(metrics.value("onion_relay_state", Map.of("relay", "blocked", "state", "LISTENING")))
                        .isEqualTo(1.0);
            });
        }
    }

    @Test
    void anInstanceWhoseRelaysAllFailedIsNotReadyUntilOneServes(@TempDir Path state) throws Exception {
        try (RunningService service = new RunningService(state)) {
            int port = create(service.api(), "blocked", 9);
            service.stop();

            try (ServerSocket squatter = new ServerSocket(port, 1, InetAddress.getLoopbackAddress())) {
                service.start();
                ApiClient management = service.management();
                Response health = management.get("/actuator/health");
                assertThat(health.status()).as(health.toString()).isEqualTo(503);
                assertThat(component(health, "onion")).isEqualTo("DOWN");
                Response readiness = management.get("/actuator/health/readiness");
                assertThat(readiness.status()).as(readiness.toString()).isEqualTo(503);
                assertThat(component(readiness, "onion")).isEqualTo("DOWN");
                assertLivenessIgnoresRelays(management);

                // The operator removes the relay: the instance is ready again, and its series are gone.
                assertThat(service.api().delete("/relays/blocked").status()).isEqualTo(204);
                assertThat(management.get("/actuator/health/readiness").status())
                        .isEqualTo(200);
                assertThat(component(management.get("/actuator/health"), "onion"))
                        .isEqualTo("UP");
                await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> assertThat(Exposition.parse(
                                        management.get("/actuator/prometheus").body())
                                .samples("onion_relay_state", Map.of("relay", "blocked")))
                        .isEmpty());
            }
        }
    }

    private static int create(ApiClient api, String name, int targetPort) {
        Response created = api.post(
                "/relays",
                Map.of(
                        "name",
                        name,
                        "listen",
                        Map.of("host", "127.0.0.1", "port", 0),
                        "target",
                        Map.of("host", "127.0.0.1", "port", targetPort)));
        assertThat(created.status()).as(created.toString()).isEqualTo(201);
        return created.json().get("listen").get("port").asInt();
    }

    private static void assertLivenessIgnoresRelays(ApiClient management) {
        Response liveness = management.get("/actuator/health/liveness");
        assertThat(liveness.status()).as(liveness.toString()).isEqualTo(200);
        assertThat(liveness.json().get("status").asString()).isEqualTo("UP");
        assertThat(liveness.json().path("components").has("onion"))
                .as("liveness does not depend on relays")
                .isFalse();
    }

    private static String component(Response health, String name) {
        return health.json().get("components").get(name).get("status").asString();
    }
}
