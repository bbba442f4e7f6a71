package dev.onionrelay.proxy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.onionrelay.support.ApiClient;
import dev.onionrelay.support.EchoServer;
import dev.onionrelay.support.RunningService;
import dev.onionrelay.support.Scenario;
import java.io.IOException;
import java.net.Socket;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;

/**
 * A relay with several fixed targets: failover skips a target that refuses (the client sees only a connect delay),
 * marks it down for {@code onion.limits.target-down-for} and uses it again afterwards; round-robin spreads tunnels
 * evenly; tunnel status and metrics say which target a tunnel reached.
 */
@Scenario
class SeveralTargetsTest {

    private static RunningService service;
    private static ApiClient api;

    @BeforeAll
    static void start() throws Exception {
        service = RunningService.inTemporaryDirectory("--onion.limits.target-down-for=3s");
        api = service.api();
    }

    @AfterAll
    static void stop() {
        service.close();
    }

    private static int freePort() throws IOException {
        try (EchoServer gone = new EchoServer()) {
            return gone.port();
        }
    }

    private static int relay(String name, String balance, int... ports) {
        List<Map<String, Object>> targets = java.util.Arrays.stream(ports)
                .<Map<String, Object>>mapToObj(port -> Map.of("host", "127.0.0.1", "port", port))
                .toList();
        return ProxyClients.relay(api, name, Map.of("targets", targets, "balance", balance), 0, 0);
    }

    /** One tunnel: a byte there and back. */
    private static void echoOnce(int port) throws IOException {
        try (Socket client = ProxyClients.connect(port)) {
            client.getOutputStream().write('x');
            assertThat(client.getInputStream().read()).isEqualTo('x');
        }
    }

    @Test
    void failoverSkipsADownTargetAndUsesItAgainAfterItsDownTime() throws Exception {
        int first = freePort();
        try (EchoServer second = new EchoServer()) {
            int port = relay("failover", "failover", first, second.port());
            echoOnce(port);
            assertThat(second.connections())
                    .as("the first target refused: the second one served")
                    .isEqualTo(1);

            try (EchoServer back = new EchoServer(false, first)) {
                // Down for 3s: the next tunnel goes to the second target without trying the first.
                echoOnce(port);
                assertThat(back.connections()).isZero();
                assertThat(second.connections()).isEqualTo(2);
                await().atMost(Duration.ofSeconds(15))
                        .pollInterval(Duration.ofMillis(500))
                        .untilAsserted(() -> {
                            echoOnce(port);
                            assertThat(back.connections())
                                    .as("after its down-time the first target is used again")
                                    .isPositive();
                        });
                try (Socket held = ProxyClients.connect(port)) {
                    held.getOutputStream().write('x');
                    assertThat(held.getInputStream().read()).isEqualTo('x');
                    JsonNode connected =
                            api.get("/relays/failover/tunnels").json().get(0).get("connected");
                    assertThat(connected.get("index").asInt()).isZero();
                    assertThat(connected.get("target").asString()).isEqualTo("127.0.0.1:" + first);
                }
            }
        }
        await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> {
            String metrics = service.management().get("/actuator/prometheus").body();
            assertThat(metrics)
                    .as("only the first tunnel tried the first target while it was down")
                    .containsPattern("onion_target_connects_total\\{[^}]*outcome=\"refused\"[^}]*relay=\"failover\""
                            + "[^}]*target=\"0\"[^}]*} 1\\.0")
                    .containsPattern("onion_target_connects_total\\{[^}]*outcome=\"connected\"[^}]*relay=\"failover\""
                            + "[^}]*target=\"0\"[^}]*} [1-9]")
                    .containsPattern("onion_target_connects_total\\{[^}]*outcome=\"connected\"[^}]*relay=\"failover\""
                            + "[^}]*target=\"1\"[^}]*} [1-9]");
            assertThat(api.get("/relays/failover")
                            .json()
                            .get("stats")
                            .get("activeTunnels")
                            .asInt())
                    .isZero();
        });
    }

    @Test
    void roundRobinSpreadsTunnelsOverItsTargets() throws Exception {
        try (EchoServer a = new EchoServer();
                EchoServer b = new EchoServer();
                EchoServer c = new EchoServer()) {
            int port = relay("round-robin", "round-robin", a.port(), b.port(), c.port());
            for (int i = 0; i < 100; i++) {
                echoOnce(port);
            }
            for (EchoServer target : List.of(a, b, c)) {
                assertThat(target.connections()).isBetween(33 - 10, 34 + 10);
            }
            assertThat(a.connections() + b.connections() + c.connections()).isEqualTo(100);
        }
    }

    @Test
    void theRelayShowsItsTargetsAsGiven() {
        relay("shown", "round-robin", 7001, 7002);
        JsonNode target = api.get("/relays/shown").json().get("target");
        assertThat(target.get("balance").asString()).isEqualTo("round-robin");
        assertThat(target.get("targets").get(1).get("port").asInt()).isEqualTo(7002);
        assertThat(target.has("host")).isFalse();
    }
}
