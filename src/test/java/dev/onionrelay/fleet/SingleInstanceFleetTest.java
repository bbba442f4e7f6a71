package dev.onionrelay.fleet;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.onionrelay.support.ApiClient;
import dev.onionrelay.support.ApiClient.Response;
import dev.onionrelay.support.EchoServer;
import dev.onionrelay.support.RunningService;
import dev.onionrelay.support.Scenario;
import java.net.Socket;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;

/**
 * With the file store (the default) the fleet is this instance alone, so that scripts written for a fleet work
 * everywhere: one member, relay views with one element in {@code instances}, tunnels naming this instance.
 */
@Scenario
class SingleInstanceFleetTest {

    static RunningService service;
    static ApiClient api;
    static EchoServer echo;

    @BeforeAll
    static void start() throws Exception {
        service = RunningService.inTemporaryDirectory("--onion.fleet.instance-name=solo");
        api = service.api();
        echo = new EchoServer();
    }

    @AfterAll
    static void stop() throws Exception {
        service.close();
        echo.close();
    }

    @Test
    void theFleetOfAFileStoreInstanceIsItselfAndItsViewsNameIt() throws Exception {
        Response members = api.get("/fleet/members");
        assertThat(members.status()).isEqualTo(200);
        JsonNode member = members.json().get(0);
        assertThat(members.json().size()).isEqualTo(1);
        assertThat(member.path("name").asString()).isEqualTo("solo");
        assertThat(member.path("self").asBoolean()).isTrue();
        assertThat(member.path("url").asString()).startsWith("http://");
        assertThat(member.path("lastSeen").asString()).isNotEmpty();

        Response created = api.post(
                "/relays", Map.of("name", "alone", "target", Map.of("host", "127.0.0.1", "port", echo.port())));
        assertThat(created.status()).as(created.toString()).isEqualTo(201);
        JsonNode instances = created.json().path("instances");
        assertThat(instances.size()).isEqualTo(1);
        assertThat(instances.get(0).path("name").asString()).isEqualTo("solo");
        assertThat(instances.get(0).path("state").asString()).isEqualTo("LISTENING");
        int port = created.json().path("listen").path("port").asInt();

        try (Socket client = new Socket("127.0.0.1", port)) {
            // Without ingress layers a connection is admitted (counted in activeTunnels) at its first byte.
            client.getOutputStream().write('!');
            JsonNode tunnels = await().atMost(Duration.ofSeconds(10))
                    .until(() -> api.get("/relays/alone/tunnels").json(), list -> list.size() == 1);
            assertThat(tunnels.get(0).path("instance").asString()).isEqualTo("solo");
            String tunnel = tunnels.get(0).path("id").asString();
            assertThat(api.get("/relays/alone/tunnels/" + tunnel)
                            .json()
                            .path("instance")
                            .asString())
                    .isEqualTo("solo");
            assertThat(api.get("/relays/alone")
                            .json()
                            .path("instances")
                            .get(0)
                            .path("activeTunnels")
                            .asInt())
                    .isEqualTo(1);
        }
        Response unknown = api.get("/relays/alone/tunnels/00000000-0000-0000-0000-000000000000");
        assertThat(unknown.status()).as("nothing to forward to: the plain 404").isEqualTo(404);

        JsonNode report = service.management().get("/actuator/onion").json();
        assertThat(report.path("instance").asString()).isEqualTo("solo");
        assertThat(report.path("memberCount").asInt()).isEqualTo(1);
        assertThat(service.management().get("/actuator/prometheus").body()).contains("onion_fleet_members 1.0");
        assertThat(api.delete("/relays/alone").status()).isEqualTo(204);
    }
}
