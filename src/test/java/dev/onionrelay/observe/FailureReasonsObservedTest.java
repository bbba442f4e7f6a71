package dev.onionrelay.observe;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.onionrelay.support.AbortingClient;
import dev.onionrelay.support.AbortingClient.Leave;
import dev.onionrelay.support.AbortingClient.Point;
import dev.onionrelay.support.ApiClient;
import dev.onionrelay.support.ApiClient.Response;
import dev.onionrelay.support.EchoServer;
import dev.onionrelay.support.Exposition;
import dev.onionrelay.support.RunningService;
import dev.onionrelay.support.Scenario;
import java.io.File;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;

/**
 * What an operator sees of the commonest handshake failures, in {@code onion_handshake_failures_total} and in {@code
 * /actuator/onion}: curl that does not trust the relay's CA, a TLS 1.2 client at a TLS 1.3-only layer, a TCP check
 * that connects and leaves, and a client that leaves the inner handshake of a depth-2 relay.
 */
@Scenario
class FailureReasonsObservedTest {

    static final Duration PATIENCE = Duration.ofSeconds(20);

    static RunningService service;
    static ApiClient api;
    static ApiClient management;
    static EchoServer echo;

    @BeforeAll
    static void driveFailures() throws Exception {
        service = RunningService.inTemporaryDirectory();
        api = service.api();
        management = service.management();
        echo = new EchoServer();
        create("/credentials", Map.of("name", "ca", "generate", Map.of("ca", true, "commonName", "reasons CA")));
        create(
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
                                List.of("127.0.0.1"))));
        int front = relay("front", echo.port(), List.of(Map.of("name", "edge", "credential", "hop")), List.of());
        int strict = relay(
                "tls13-only",
                echo.port(),
                List.of(Map.of("name", "edge", "credential", "hop", "protocols", List.of("TLSv1.3"))),
                List.of());
        int exit = relay(
                "exit",
                echo.port(),
                List.of(Map.of("name", "outer", "credential", "hop"), Map.of("name", "inner", "credential", "hop")),
                List.of());
        int shallow = relay(
                "shallow", exit, List.of(), List.of(Map.of("name", "outer", "trust", "ca", "serverName", "localhost")));

        run("curl", "-sS", "--max-time", "5", "https://localhost:" + front + "/");
        await().atMost(PATIENCE).until(() -> failed("front") == 1);
        AbortingClient.run(front, Point.BEFORE_ANY_BYTE, Leave.CLOSE);
        run("openssl", "s_client", "-connect", "127.0.0.1:" + strict, "-tls1_2", "-brief");
        AbortingClient.run(shallow, Point.AFTER_CLIENT_HELLO, Leave.CLOSE, () -> await().atMost(PATIENCE)
                .until(() -> succeeded("exit") == 1));
        await("four failures: unknown_ca, protocol_version and two peer_closed")
                .atMost(PATIENCE)
                .until(() -> management
                                .get("/actuator/onion")
                                .json()
                                .get("handshakes")
                                .get("failed")
                                .asLong()
                        == 4);
    }

    @AfterAll
    static void stop() throws Exception {
        if (service != null) {
            service.close();
        }
        if (echo != null) {
            echo.close();
        }
    }

    @Test
    void prometheusCountsEachFailureUnderItsReasonOnItsLayer() {
        Exposition exposition =
                Exposition.parse(management.get("/actuator/prometheus").body());
        Map<Map<String, String>, Double> failures = new LinkedHashMap<>();
        exposition
                .samples("onion_handshake_failures_total", Map.of())
                .forEach(s -> failures.put(s.labels(), s.value()));
        assertThat(failures)
                .isEqualTo(Map.of(
                        labels("relay", "front", "side", "ingress", "layer", "edge", "reason", "unknown_ca"), 1.0,
                        labels("relay", "front", "side", "ingress", "layer", "edge", "reason", "peer_closed"), 1.0,
                        labels("relay", "tls13-only", "side", "ingress", "layer", "edge", "reason", "protocol_version"),
                                1.0,
                        labels("relay", "exit", "side", "ingress", "layer", "inner", "reason", "peer_closed"), 1.0));
        assertThat(exposition.value(
                        "onion_handshakes_total",
                        labels("relay", "front", "side", "ingress", "layer", "edge", "outcome", "failure")))
                .isEqualTo(2.0);
    }

    @Test
    void actuatorShowsFailuresByReasonAndEachRelaysLastFailure() {
        JsonNode report = management.get("/actuator/onion").json();
        assertThat(counts(report.get("handshakes").get("failuresByReason")))
                .isEqualTo(Map.of("unknown_ca", 1L, "peer_closed", 2L, "protocol_version", 1L));

        JsonNode front = relayReport("front");
        assertThat(counts(front.get("handshakeFailures").get("byReason")))
                .isEqualTo(Map.of("unknown_ca", 1L, "peer_closed", 1L));
        assertLastFailure(front, "ingress", "edge", "peer_closed");
        assertThat(front.get("lastFailure").get("alert").isNull())
                .as("no alert names peer_closed")
                .isTrue();
        JsonNode strict = relayReport("tls13-only");
        assertLastFailure(strict, "ingress", "edge", "protocol_version");
        assertThat(strict.get("lastFailure").get("alert").asString())
                .as("we refused the client")
                .isEqualTo("sent");
        JsonNode exit = relayReport("exit");
        assertThat(counts(exit.get("handshakeFailures").get("byLayer"))).isEqualTo(Map.of("ingress/inner", 1L));
        assertLastFailure(exit, "ingress", "inner", "peer_closed");
        assertThat(relayReport("shallow").get("handshakeFailures").get("total").asLong())
                .isZero();
    }

    private static void assertLastFailure(JsonNode relay, String side, String layer, String reason) {
        JsonNode last = relay.get("lastFailure");
        assertThat(last.get("side").asString()).isEqualTo(side);
        assertThat(last.get("layer").asString()).isEqualTo(layer);
        assertThat(last.get("reason").asString()).isEqualTo(reason);
        assertThat(last.get("peer").asString()).matches("127\\.0\\.0\\.1:\\d+");
    }

    private static long failed(String relay) {
        return relayReport(relay).get("handshakeFailures").get("total").asLong();
    }

    private static long succeeded(String relay) {
        return relayReport(relay).get("handshakesSucceeded").asLong();
    }

    private static JsonNode relayReport(String relay) {
        return management.get("/actuator/onion/" + relay).json();
    }

    private static Map<String, Long> counts(JsonNode object) {
        Map<String, Long> counts = new TreeMap<>();
        object.properties().forEach(e -> counts.put(e.getKey(), e.getValue().asLong()));
        return counts;
    }

    private static Map<String, String> labels(String... namesAndValues) {
        Map<String, String> labels = new TreeMap<>();
        for (int i = 0; i < namesAndValues.length; i += 2) {
            labels.put(namesAndValues[i], namesAndValues[i + 1]);
        }
        return labels;
    }

    private static void create(String path, Object body) {
        Response response = api.post(path, body);
        assertThat(response.status()).as(response.toString()).isEqualTo(201);
    }

    private static int relay(String name, int targetPort, List<?> ingress, List<?> egress) {
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("name", name);
        body.put("listen", Map.of("host", "127.0.0.1", "port", 0));
        body.put("target", Map.of("host", "127.0.0.1", "port", targetPort));
        body.put("ingress", ingress);
        body.put("egress", egress);
        Response response = api.post("/relays", body);
        assertThat(response.status()).as(response.toString()).isEqualTo(201);
        return response.json().get("listen").get("port").asInt();
    }

    /** Runs a client that fails its handshake to its end. */
    private static void run(String... command) throws Exception {
        Process process = new ProcessBuilder(command)
                .redirectErrorStream(true)
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                .start();
        String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!process.waitFor(PATIENCE.toSeconds(), TimeUnit.SECONDS)) {
            process.destroyForcibly();
            throw new AssertionError(String.join(" ", command) + " did not finish:\n" + output);
        }
    }
}
