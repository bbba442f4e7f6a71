package dev.onionrelay.api;

import static org.assertj.core.api.Assertions.assertThat;

import dev.onionrelay.support.ApiClient;
import dev.onionrelay.support.EchoServer;
import dev.onionrelay.support.RunningService;
import dev.onionrelay.support.Scenario;
import dev.onionrelay.support.Traffic;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import tools.jackson.databind.JsonNode;

/** What was created over the API is back after a restart: same ids, same ports, same credentials, and it works. */
@Scenario
class RestartTest {

    @Test
    void credentialsAndRelaysComeBackWithTheirIdsAndPortsAndCarryTraffic(@TempDir Path state) throws Exception {
        try (EchoServer echo = new EchoServer();
                RunningService service = new RunningService(state)) {
            ApiClient api = service.api();
            String token = service.adminToken();
            api.post("/credentials", Map.of("name", "ca", "generate", Map.of("ca", true)));
            api.post(
                    "/credentials",
                    Map.of("name", "hop", "generate", Map.of("issuer", "ca", "dnsNames", List.of("localhost"))));
            JsonNode exit = api.post(
                            "/relays",
                            Map.of(
                                    "name", "exit",
                                    "target", Map.of("host", "127.0.0.1", "port", echo.port()),
                                    "ingress", List.of(Map.of("credential", "hop"))))
                    .json();
            JsonNode entry = api.post(
                            "/relays",
                            Map.of(
                                    "name", "entry",
                                    "target",
                                            Map.of(
                                                    "host",
                                                    "127.0.0.1",
                                                    "port",
                                                    exit.get("listen")
                                                            .get("port")
                                                            .asInt()),
                                    "egress", List.of(Map.of("trust", "ca", "serverName", "localhost"))))
                    .json();
            int entryPort = entry.get("listen").get("port").asInt();
            assertThat(Traffic.echo(entryPort, 1 << 20).intact()).isTrue();
            String hopFingerprint =
                    api.get("/credentials/hop").json().get("sha256").asString();

            service.stop();
            service.start();

            ApiClient again = service.api();
            assertThat(service.adminToken()).as("the generated token is kept").isEqualTo(token);
            assertThat(again.get("/credentials/hop").json().get("sha256").asString())
                    .isEqualTo(hopFingerprint);
            JsonNode entryAfter =
                    again.get("/relays/" + entry.get("id").asString()).json();
            assertThat(entryAfter.get("name").asString()).isEqualTo("entry");
            assertThat(entryAfter.get("state").asString()).isEqualTo("LISTENING");
            assertThat(entryAfter.get("listen").get("port").asInt()).isEqualTo(entryPort);
            assertThat(again.get("/relays/exit").json().get("id").asString())
                    .isEqualTo(exit.get("id").asString());
            assertThat(Traffic.echo(entryPort, 1 << 20).intact()).isTrue();
        }
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(state.resolve("admin.token"))))
                .isEqualTo("rw-------");
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(state.resolve("credentials/hop.key"))))
                .isEqualTo("rw-------");
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(state.resolve("credentials"))))
                .isEqualTo("rwx------");
    }

    @Test
    void aRelayWhosePortIsTakenAtRestartIsReportedFailedWithTheReason(@TempDir Path state) throws Exception {
        int port;
        try (RunningService service = new RunningService(state)) {
            JsonNode relay = service.api()
                    .post("/relays", Map.of("name", "victim", "target", Map.of("host", "127.0.0.1", "port", 9)))
                    .json();
            port = relay.get("listen").get("port").asInt();
            service.stop();
            try (ServerSocket squatter = new ServerSocket(port, 1, InetAddress.getLoopbackAddress())) {
                service.start();
                JsonNode after = service.api().get("/relays/victim").json();
                assertThat(after.get("state").asString()).isEqualTo("FAILED");
                assertThat(after.get("error").asString()).contains(Integer.toString(port));
                assertThat(service.api().delete("/relays/victim").status()).isEqualTo(204);
            }
        }
    }
}
