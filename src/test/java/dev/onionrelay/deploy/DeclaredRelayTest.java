package dev.onionrelay.deploy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.onionrelay.support.ApiClient;
import dev.onionrelay.support.ApiClient.Response;
import dev.onionrelay.support.EchoServer;
import dev.onionrelay.support.RunningService;
import dev.onionrelay.support.Scenario;
import dev.onionrelay.support.Traffic;
import java.net.InetAddress;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import tools.jackson.databind.JsonNode;

/**
 * Relays declared in configuration belong to the configuration: the API can neither delete nor replace them (409,
 * saying so), though their tunnels can be closed like any other. A relay stored by the API under a name that a later
 * configuration declares never stops the start: the declared relay wins, the stored one stays on disk and is reported.
 */
@Scenario
class DeclaredRelayTest {

    @TempDir
    Path state;

    @Test
    void aDeclaredRelayCannotBeDeletedOrReplacedOverTheApiButItsTunnelsCanBeClosed() throws Exception {
        try (EchoServer echo = new EchoServer();
                RunningService service = new RunningService(state, declaring("d1", echo.port()))) {
            ApiClient api = service.api();

            Response deleted = api.delete("/relays/d1");
            assertThat(deleted.status()).as(deleted.toString()).isEqualTo(409);
            assertThat(deleted.contentType()).startsWith("application/problem+json");
            assertThat(deleted.json().get("detail").asString()).contains("declared in configuration");

            Response replaced = api.post(
                    "/relays", Map.of("name", "d1", "target", Map.of("host", "127.0.0.1", "port", echo.port())));
            assertThat(replaced.status()).as(replaced.toString()).isEqualTo(409);
            assertThat(replaced.contentType()).startsWith("application/problem+json");
            assertThat(replaced.json().get("detail").asString()).contains("declared in configuration");
            try (Stream<Path> stored = Files.list(state.resolve("relays"))) {
                assertThat(stored.toList()).as("nothing persisted").isEmpty();
            }

            JsonNode relay = api.get("/relays/d1").json();
            assertThat(relay.get("id").asString()).isEqualTo("config-d1");
            int port = relay.at("/listen/port").asInt();
            assertThat(Traffic.echo(port, 1 << 16).intact()).isTrue();

            try (Socket client = new Socket(InetAddress.getLoopbackAddress(), port)) {
                await().atMost(Duration.ofSeconds(10))
                        .until(() -> api.get("/relays/d1/tunnels").json().size() == 1);
                String tunnel =
                        api.get("/relays/d1/tunnels").json().get(0).get("id").asString();
                assertThat(api.delete("/relays/d1/tunnels/" + tunnel).status()).isEqualTo(204);
                assertThat(client.getInputStream().read())
                        .as("the tunnel is closed")
                        .isEqualTo(-1);
            }

            service.stop();
            service.start();
            assertThat(service.api().get("/relays/d1").json().get("state").asString())
                    .isEqualTo("LISTENING");
        }
    }

    @Test
    void aStoredRelayWhoseNameIsDeclaredLaterIsReportedAndKeptWhileTheDeclaredOneServes() throws Exception {
        String storedId;
        try (EchoServer echo = new EchoServer()) {
            try (RunningService before = new RunningService(state)) {
                Response created = before.api()
                        .post("/relays", Map.of("name", "d1", "target", Map.of("host", "127.0.0.1", "port", 9)));
                assertThat(created.status()).as(created.toString()).isEqualTo(201);
                storedId = created.json().get("id").asString();
            }

            try (RunningService service = new RunningService(
                    state, declaring("d1", echo.port(), "--management.endpoint.health.show-details=always"))) {
                ApiClient api = service.api();
                JsonNode relays = api.get("/relays").json();
                assertThat(relays.size()).isEqualTo(1);
                assertThat(relays.get(0).get("id").asString()).isEqualTo("config-d1");
                assertThat(Traffic.echo(relays.get(0).at("/listen/port").asInt(), 1 << 16)
                                .intact())
                        .isTrue();

                assertThat(state.resolve("relays").resolve(storedId + ".json"))
                        .as("the stored relay is kept")
                        .exists();
                Response health = service.management().get("/actuator/health");
                assertThat(health.status()).as(health.toString()).isEqualTo(200);
                assertThat(health.json()
                                .at("/components/onion/details/notLoaded/" + storedId)
                                .asString())
                        .contains("d1", "declared in configuration");
            }
        }
    }

    private static String[] declaring(String name, int targetPort, String... more) {
        String[] declared = {
            "--onion.relays[0].name=" + name,
            "--onion.relays[0].listen.host=127.0.0.1",
            "--onion.relays[0].listen.port=0",
            "--onion.relays[0].target.host=127.0.0.1",
            "--onion.relays[0].target.port=" + targetPort
        };
        String[] all = new String[declared.length + more.length];
        System.arraycopy(declared, 0, all, 0, declared.length);
        System.arraycopy(more, 0, all, declared.length, more.length);
        return all;
    }
}
