package dev.onionrelay.api.security;

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
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * {@code onion.api.read-only}, the mode of instances that run side by side without a shared store (a Helm release
 * with several replicas on the file store): no API call can create or delete a relay or a credential, so every
 * instance keeps exactly what its configuration declares; reads and the live operations on a tunnel still work.
 */
@Scenario
class ReadOnlyApiTest {

    @TempDir
    Path state;

    @Test
    void relaysAndCredentialsCannotBeCreatedOrDeletedButTheDeclaredRelayServesAndItsTunnelsCanBeClosed()
            throws Exception {
        try (EchoServer echo = new EchoServer();
                RunningService service = new RunningService(
                        state,
                        "--onion.api.read-only=true",
                        "--onion.relays[0].name=d1",
                        "--onion.relays[0].listen.port=0",
                        "--onion.relays[0].target.host=127.0.0.1",
                        "--onion.relays[0].target.port=" + echo.port())) {
            ApiClient api = service.api();

            for (Response refused : new Response[] {
                api.post("/relays", Map.of("name", "r2", "target", Map.of("host", "127.0.0.1", "port", echo.port()))),
                api.delete("/relays/config-d1"),
                api.post("/credentials", Map.of("name", "ca", "generate", Map.of("ca", true))),
                api.delete("/credentials/ca")
            }) {
                assertThat(refused.status()).as(refused.toString()).isEqualTo(403);
                assertThat(refused.contentType()).startsWith("application/problem+json");
                assertThat(refused.json().get("type").asString()).isEqualTo("urn:onion-relay:problem:read-only-api");
                assertThat(refused.json().get("detail").asString()).contains("onion.api.read-only");
            }
            assertThat(api.get("/relays").json().size()).as("nothing created").isEqualTo(1);
            assertThat(api.get("/credentials").json().size()).isZero();
            assertThat(Files.exists(state.resolve("relays"))
                            && Files.list(state.resolve("relays")).findAny().isPresent())
                    .as("nothing stored")
                    .isFalse();

            int port = api.get("/relays/config-d1").json().at("/listen/port").asInt();
            assertThat(Traffic.echo(port, 1 << 16).intact()).isTrue();
            try (Socket client = new Socket(InetAddress.getLoopbackAddress(), port)) {
                await().atMost(Duration.ofSeconds(10))
                        .until(() -> api.get("/relays/config-d1/tunnels").json().size() == 1);
                String tunnel = api.get("/relays/config-d1/tunnels")
                        .json()
                        .get(0)
                        .get("id")
                        .asString();
                assertThat(api.delete("/relays/config-d1/tunnels/" + tunnel).status())
                        .as("a live tunnel operation is not a change of stored state")
                        .isEqualTo(204);
                assertThat(client.getInputStream().read()).isEqualTo(-1);
            }
        }
    }

    @Test
    void withoutTheSettingTheApiCreatesAsBefore() throws Exception {
        try (RunningService service = new RunningService(state)) {
            Response created = service.api().post("/credentials", Map.of("name", "ca", "generate", Map.of("ca", true)));
            assertThat(created.status()).as(created.toString()).isEqualTo(201);
        }
    }

    @ParameterizedTest(name = "{0} changes stored state: {1}")
    @CsvSource({
        "/relays, true",
        "/relays/, true",
        "/relays/r1, true",
        "/relays/r1/, true",
        "/credentials, true",
        "/credentials/ca, true",
        "/credentials/ca/certificate, true",
        "/relays/r1/tunnels, false",
        "/relays/r1/tunnels/t1, false",
        "/relays/r1/tunnels/t1/ingress/layers, false",
        "/relays/r1/tunnels/t1/egress/layers/innermost, false",
        "/fleet/members, false"
    })
    void onlyRelayAndCredentialPathsAreRefused(String path, boolean refused) {
        assertThat(ReadOnlyApiFilter.changesStoredState(path)).isEqualTo(refused);
    }
}
