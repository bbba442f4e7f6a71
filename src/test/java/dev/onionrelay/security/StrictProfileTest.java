package dev.onionrelay.security;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.onionrelay.support.ApiClient;
import dev.onionrelay.support.EchoServer;
import dev.onionrelay.support.PythonPeer;
import dev.onionrelay.support.RunningService;
import dev.onionrelay.support.Scenario;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import tools.jackson.databind.JsonNode;

/** The opt-in strict profile: TLS 1.3 with AES-256-GCM only, refusing TLS 1.2 peers; default layers stay AEAD. */
@Scenario
class StrictProfileTest {

    @Test
    void strictLayersNegotiateAes256OnTls13AndRefuseTls12Peers(@TempDir Path dir) throws Exception {
        try (EchoServer echo = new EchoServer();
                RunningService service = RunningService.inTemporaryDirectory()) {
            ApiClient api = service.api();
            api.post("/credentials", Map.of("name", "ca", "generate", Map.of("ca", true)));
            api.post(
                    "/credentials",
                    Map.of("name", "hop", "generate", Map.of("issuer", "ca", "dnsNames", List.of("localhost"))));
            JsonNode exit = api.post(
                            "/relays",
                            Map.of(
                                    "name", "strict-exit",
                                    "target", Map.of("host", "127.0.0.1", "port", echo.port()),
                                    "ingress", List.of(Map.of("credential", "hop", "profile", "strict"))))
                    .json();
            assertThat(exit.get("ingress").get(0).get("protocols").toString()).isEqualTo("[\"TLSv1.3\"]");
            assertThat(exit.get("ingress").get(0).get("ciphers").toString()).isEqualTo("[\"TLS_AES_256_GCM_SHA384\"]");
            int exitPort = exit.get("listen").get("port").asInt();
            int entryPort = api.post(
                            "/relays",
                            Map.of(
                                    "name", "entry",
                                    "target", Map.of("host", "127.0.0.1", "port", exitPort),
                                    "egress", List.of(Map.of("trust", "ca", "serverName", "localhost"))))
                    .json()
                    .get("listen")
                    .get("port")
                    .asInt();

            try (java.net.Socket client = new java.net.Socket(java.net.InetAddress.getLoopbackAddress(), entryPort)) {
                client.setSoTimeout(10_000);
                client.getOutputStream().write('s');
                assertThat(client.getInputStream().read()).isEqualTo('s');
                JsonNode layer = api.get("/relays/strict-exit/tunnels")
                        .json()
                        .get(0)
                        .get("ingress")
                        .get("layers")
                        .get(0);
                assertThat(layer.get("protocol").asString()).isEqualTo("TLSv1.3");
                assertThat(layer.get("cipher").asString()).isEqualTo("TLS_AES_256_GCM_SHA384");
            }

            Path ca = dir.resolve("ca.pem");
            Files.writeString(ca, api.get("/credentials/ca/certificate").body());
            PythonPeer.Result tls12 = PythonPeer.run(
                    Duration.ofSeconds(20),
                    "nested_tls.py",
                    "client",
                    "--connect",
                    "127.0.0.1:" + exitPort,
                    "--layer",
                    "ca=" + ca + ",server_name=localhost,tls=1.2",
                    "--send-random",
                    "16",
                    "--expect-echo");
            assertThat(tls12.exitCode()).as(tls12.toString()).isEqualTo(1);
            await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> assertThat(api.get("/relays/strict-exit")
                            .json()
                            .get("stats")
                            .get("handshakeFailures")
                            .asLong())
                    .isEqualTo(1));

            assertThat(api.post(
                                    "/relays",
                                    Map.of(
                                            "name",
                                            "widened",
                                            "target",
                                            Map.of("host", "127.0.0.1", "port", echo.port()),
                                            "ingress",
                                            List.of(Map.of(
                                                    "credential",
                                                    "hop",
                                                    "profile",
                                                    "strict",
                                                    "protocols",
                                                    List.of("TLSv1.2")))))
                            .status())
                    .as("strict cannot be widened")
                    .isEqualTo(400);
        }
    }
}
