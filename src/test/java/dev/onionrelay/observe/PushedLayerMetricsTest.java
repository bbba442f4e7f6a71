package dev.onionrelay.observe;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.onionrelay.support.ApiClient;
import dev.onionrelay.support.ApiClient.Response;
import dev.onionrelay.support.EchoServer;
import dev.onionrelay.support.Exposition;
import dev.onionrelay.support.RunningService;
import dev.onionrelay.support.Scenario;
import java.net.InetAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;

/**
 * A layer pushed at runtime (startTLS) over the API, then popped (stopTLS): its handshake, the push and the pops are
 * counted, and live depth follows it, but its name, chosen by an API caller, never becomes a label value: metrics name
 * it {@code pushed}, since only configured layer names are bounded by configuration.
 *
 * <p>{@code entry [egress: none] -> exit [ingress: none] -> echo}; a server layer is pushed on the exit's ingress side
 * and a client layer on the entry's egress side, so the two handshake with each other inside the live tunnel.
 */
@Scenario
class PushedLayerMetricsTest {

    static final Duration PATIENCE = Duration.ofSeconds(10);

    @Test
    void pushedLayersAreCountedUnderTheBoundedLabelPushedAndLiveDepthFollowsThem() throws Exception {
        try (RunningService service = RunningService.inTemporaryDirectory();
                EchoServer echo = new EchoServer()) {
            ApiClient api = service.api();
            ApiClient management = service.management();
            created(api.post("/credentials", Map.of("name", "ca", "generate", Map.of("ca", true, "commonName", "CA"))));
            created(api.post(
                    "/credentials",
                    Map.of(
                            "name",
                            "hop",
                            "generate",
                            Map.of(
                                    "issuer",
                                    "ca",
                                    "commonName",
                                    "localhost",
                                    "dnsNames",
                                    List.of("localhost"),
                                    "ipAddresses",
                                    List.of("127.0.0.1")))));
            int exitPort = relay(api, "exit", echo.port());
            int entryPort = relay(api, "entry", exitPort);

            try (Socket client = new Socket(InetAddress.getLoopbackAddress(), entryPort)) {
                client.setSoTimeout((int) PATIENCE.toMillis());
                assertEchoes(client, "before the push\n");
                String entryTunnel = onlyTunnel(api, "entry");
                String exitTunnel = onlyTunnel(api, "exit");

                created(api.post(
                        "/relays/exit/tunnels/" + exitTunnel + "/ingress/layers",
                        Map.of("name", "tenant-4711", "credential", "hop")));
                created(api.post(
                        "/relays/entry/tunnels/" + entryTunnel + "/egress/layers",
                        Map.of("name", "tenant-4711-client", "trust", "ca", "serverName", "localhost")));
                await().atMost(PATIENCE).untilAsserted(() -> {
                    assertThat(liveDepth(management, "entry", "egress")).isEqualTo(1);
                    assertThat(liveDepth(management, "exit", "ingress")).isEqualTo(1);
                    Exposition metrics = scrape(management);
                    assertThat(metrics.value(
                                    "onion_handshakes_total",
                                    Map.of(
                                            "relay", "entry", "side", "egress", "layer", "pushed", "outcome",
                                            "success")))
                            .isEqualTo(1.0);
                    assertThat(metrics.value(
                                    "onion_handshake_seconds_count",
                                    Map.of("relay", "exit", "side", "ingress", "layer", "pushed")))
                            .isEqualTo(1.0);
                    // Above the minimum depth (0) a close_notify can only pop the layer: the default runs it on
                    // OpenSSL.
                    assertThat(metrics.value(
                                    "onion_layers_active_by_provider",
                                    Map.of("relay", "exit", "side", "ingress", "provider", "OPENSSL")))
                            .isEqualTo(1.0);
                    assertThat(metrics.value(
                                    "onion_layers_active_by_provider",
                                    Map.of("relay", "exit", "side", "ingress", "provider", "JDK")))
                            .isEqualTo(0.0);
                });
                assertEchoes(client, "inside the pushed layer\n");

                // stopTLS from the entry: the exit sees the close_notify, a pop by its peer.
                assertThat(api.delete("/relays/entry/tunnels/" + entryTunnel + "/egress/layers/innermost")
                                .status())
                        .isEqualTo(202);
                await().atMost(PATIENCE).untilAsserted(() -> {
                    assertThat(liveDepth(management, "entry", "egress")).isZero();
                    assertThat(liveDepth(management, "exit", "ingress")).isZero();
                });
                assertEchoes(client, "after the pop\n");

                Exposition metrics = scrape(management);
                assertThat(metrics.value(
                                "onion_layer_pushes_total",
                                Map.of("relay", "entry", "side", "egress", "initiator", "local")))
                        .isEqualTo(1.0);
                assertThat(metrics.value(
                                "onion_layer_pushes_total",
                                Map.of("relay", "exit", "side", "ingress", "initiator", "local")))
                        .isEqualTo(1.0);
                assertThat(metrics.value(
                                "onion_layer_pops_total",
                                Map.of("relay", "entry", "side", "egress", "initiator", "local")))
                        .isEqualTo(1.0);
                assertThat(metrics.value(
                                "onion_layer_pops_total",
                                Map.of("relay", "exit", "side", "ingress", "initiator", "peer")))
                        .isEqualTo(1.0);
                assertThat(metrics.samples().stream()
                                .filter(s -> s.name().startsWith("onion_"))
                                .flatMap(s -> s.labels().values().stream())
                                .filter(value -> value.contains("tenant")))
                        .as("label values naming a pushed layer")
                        .isEmpty();
            }
        }
    }

    private static void assertEchoes(Socket client, String line) throws Exception {
        byte[] bytes = line.getBytes(StandardCharsets.US_ASCII);
        client.getOutputStream().write(bytes);
        assertThat(new String(client.getInputStream().readNBytes(bytes.length), StandardCharsets.US_ASCII))
                .isEqualTo(line);
    }

    private static int liveDepth(ApiClient management, String relay, String side) {
        return management
                .get("/actuator/onion/" + relay)
                .json()
                .get("liveDepth")
                .get(side)
                .get("max")
                .asInt();
    }

    private static Exposition scrape(ApiClient management) {
        return Exposition.parse(management.get("/actuator/prometheus").body());
    }

    private static String onlyTunnel(ApiClient api, String relay) {
        JsonNode tunnels = api.get("/relays/" + relay + "/tunnels").json();
        assertThat(tunnels).hasSize(1);
        return tunnels.get(0).get("id").asString();
    }

    private static int relay(ApiClient api, String name, int targetPort) {
        Response response = api.post(
                "/relays",
                Map.of(
                        "name",
                        name,
                        "listen",
                        Map.of("host", "127.0.0.1", "port", 0),
                        "target",
                        Map.of("host", "127.0.0.1", "port", targetPort)));
        created(response);
        return response.json().get("listen").get("port").asInt();
    }

    private static void created(Response response) {
        assertThat(response.status()).as(response.toString()).isEqualTo(201);
    }
}
