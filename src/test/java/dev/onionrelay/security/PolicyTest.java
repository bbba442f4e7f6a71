package dev.onionrelay.security;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.onionrelay.support.ApiClient;
import dev.onionrelay.support.ApiClient.Response;
import dev.onionrelay.support.EchoServer;
import dev.onionrelay.support.RunningService;
import dev.onionrelay.support.Scenario;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.Socket;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;

/** The default policy keeps relays on loopback; targets are checked at creation and again when a client connects. */
@Scenario
class PolicyTest {

    private static Map<String, Object> relay(String name, String listenHost, String targetHost, int targetPort) {
        return Map.of(
                "name", name,
                "listen", Map.of("host", listenHost, "port", 0),
                "target", Map.of("host", targetHost, "port", targetPort));
    }

    private static void assertForbidden(Response response, String field) {
        assertThat(response.status()).as(response.toString()).isEqualTo(403);
        assertThat(response.contentType()).startsWith("application/problem+json");
        assertThat(response.json().get("errors").get(0).get("field").asString()).isEqualTo(field);
    }

    @Test
    void defaultPolicyRefusesMetadataPublicAndWildcardAddressesAndCreatesNothing() throws Exception {
        try (RunningService service = RunningService.inTemporaryDirectory()) {
            ApiClient api = service.api();
            assertForbidden(api.post("/relays", relay("metadata", "127.0.0.1", "169.254.169.254", 80)), "target.host");
            assertForbidden(api.post("/relays", relay("public", "127.0.0.1", "93.184.216.34", 443)), "target.host");
            assertForbidden(api.post("/relays", relay("named", "127.0.0.1", "example.com", 443)), "target.host");
            assertForbidden(api.post("/relays", relay("everywhere", "0.0.0.0", "127.0.0.1", 80)), "listen");
            assertThat(api.get("/relays").json().size())
                    .as("nothing was created")
                    .isZero();
        }
    }

    @Test
    void portsOutsideThePoolsAreRefusedAndExplicitlyListedMetadataIsAllowed() throws Exception {
        try (RunningService service = RunningService.inTemporaryDirectory(
                "--onion.policy.target-ports=7000-7999",
                "--onion.policy.listen-ports=0",
                "--onion.policy.target-hosts=loopback,169.254.169.254")) {
            ApiClient api = service.api();
            assertForbidden(api.post("/relays", relay("low-port", "127.0.0.1", "127.0.0.1", 22)), "target.port");
            Response fixedPort = api.post(
                    "/relays",
                    Map.of(
                            "name", "fixed",
                            "listen", Map.of("host", "127.0.0.1", "port", 7500),
                            "target", Map.of("host", "127.0.0.1", "port", 7001)));
            assertForbidden(fixedPort, "listen");
            assertThat(api.post("/relays", relay("metadata", "127.0.0.1", "169.254.169.254", 7080))
                            .status())
                    .as("an explicitly listed metadata address is allowed")
                    .isEqualTo(201);
            assertThat(api.get("/relays").json().size()).isEqualTo(1);
        }
    }

    @Test
    void aNameThatResolvesToADeniedAddressIsRefusedWhenAClientConnectsAndCounted() throws Exception {
        try (EchoServer echo = new EchoServer();
                RunningService service = RunningService.inTemporaryDirectory("--onion.policy.target-hosts=localhost")) {
            ApiClient api = service.api();
            // The name is allowed; loopback addresses are not: "localhost" resolves to one of them.
            assertForbidden(
                    api.post("/relays", relay("by-address", "127.0.0.1", "127.0.0.1", echo.port())), "target.host");
            Response created = api.post("/relays", relay("by-name", "127.0.0.1", "localhost", echo.port()));
            assertThat(created.status()).as(created.toString()).isEqualTo(201);
            int port = created.json().get("listen").get("port").asInt();

            try (Socket client = new Socket(InetAddress.getLoopbackAddress(), port)) {
                client.setSoTimeout(10_000);
                client.getOutputStream().write("hello".getBytes());
                InputStream in = client.getInputStream();
                assertThat(in.read())
                        .as("the relay ends the tunnel instead of connecting")
                        .isEqualTo(-1);
            }
            await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> {
                JsonNode stats = api.get("/relays/by-name").json().get("stats");
                assertThat(stats.get("connectFailures").asLong()).isEqualTo(1);
                assertThat(stats.get("activeTunnels").asInt()).isZero();
            });
            assertThat(echo.connections()).as("nothing reached the target").isZero();
        }
    }

    @Test
    void aProxyDestinationNameThatResolvesToAnAddressPolicyDoesNotAllowIsRefusedWithoutConnecting() throws Exception {
        try (EchoServer echo = new EchoServer();
                RunningService service = RunningService.inTemporaryDirectory("--onion.policy.target-hosts=localhost")) {
            ApiClient api = service.api();
            // The name is allowed; what it resolves to (loopback) is not, so neither CONNECT nor SOCKS5 reaches it.
            Response connect = api.post(
                    "/relays",
                    Map.of("name", "connect", "listen", Map.of("port", 0), "target", Map.of("mode", "connect")));
            assertThat(connect.status()).as(connect.toString()).isEqualTo(201);
            Response socks = api.post(
                    "/relays",
                    Map.of("name", "socks", "listen", Map.of("port", 0), "target", Map.of("mode", "socks5")));
            assertThat(socks.status()).as(socks.toString()).isEqualTo(201);

            try (Socket client = new Socket(
                    InetAddress.getLoopbackAddress(),
                    connect.json().get("listen").get("port").asInt())) {
                client.setSoTimeout(10_000);
                client.getOutputStream().write(("CONNECT localhost:" + echo.port() + " HTTP/1.1\r\n\r\n").getBytes());
                String response = new String(client.getInputStream().readAllBytes());
                assertThat(response).startsWith("HTTP/1.1 403 ");
            }
            try (Socket client = new Socket(
                    InetAddress.getLoopbackAddress(),
                    socks.json().get("listen").get("port").asInt())) {
                client.setSoTimeout(10_000);
                byte[] name = "localhost".getBytes();
                client.getOutputStream().write(new byte[] {5, 1, 0});
                client.getOutputStream().write(new byte[] {5, 1, 0, 3, (byte) name.length});
                client.getOutputStream().write(name);
                client.getOutputStream().write(new byte[] {(byte) (echo.port() >> 8), (byte) echo.port()});
                byte[] replies = client.getInputStream().readAllBytes();
                assertThat(replies).startsWith(5, 0, 5, 2);
            }
            assertThat(echo.connections()).as("nothing reached the destination").isZero();
            await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> {
                assertThat(api.get("/relays/connect")
                                .json()
                                .get("stats")
                                .get("activeTunnels")
                                .asInt())
                        .isZero();
                assertThat(api.get("/relays/socks")
                                .json()
                                .get("stats")
                                .get("activeTunnels")
                                .asInt())
                        .isZero();
            });
        }
    }
}
