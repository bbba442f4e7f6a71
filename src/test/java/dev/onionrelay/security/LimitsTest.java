package dev.onionrelay.security;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.onionrelay.support.ApiClient;
import dev.onionrelay.support.ApiClient.Response;
import dev.onionrelay.support.EchoServer;
import dev.onionrelay.support.RunningService;
import dev.onionrelay.support.Scenario;
import dev.onionrelay.support.Traffic;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.Socket;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Each limit, when hit, answers with its status and problem+json, and everything else keeps working. */
@Scenario
class LimitsTest {

    static RunningService service;
    static ApiClient api;
    static EchoServer echo;

    @BeforeAll
    static void start() throws Exception {
        service = RunningService.inTemporaryDirectory(
                "--onion.limits.max-relays=4",
                "--onion.limits.max-depth=2",
                "--onion.limits.max-tunnels-per-relay=50",
                "--onion.limits.default-max-tunnels=2000",
                "--onion.limits.max-tunnels=3",
                "--onion.limits.max-request-size=8KB",
                "--onion.limits.setup-timeout=1s");
        api = service.api();
        echo = new EchoServer();
        api.post("/credentials", Map.of("name", "ca", "generate", Map.of("ca", true)));
        api.post(
                "/credentials",
                Map.of("name", "hop", "generate", Map.of("issuer", "ca", "dnsNames", List.of("localhost"))));
    }

    @AfterAll
    static void stop() throws Exception {
        service.close();
        echo.close();
    }

    private static Response relay(String name, Map<String, Object> extra) {
        Map<String, Object> body = new java.util.HashMap<>(
                Map.of("name", name, "target", Map.of("host", "127.0.0.1", "port", echo.port())));
        body.putAll(extra);
        return api.post("/relays", body);
    }

    private static void assertProblem(Response response, int status) {
        assertThat(response.status()).as(response.toString()).isEqualTo(status);
        assertThat(response.contentType()).startsWith("application/problem+json");
    }

    private static int port(String relay) {
        return api.get("/relays/" + relay).json().get("listen").get("port").asInt();
    }

    @Test
    void depthTunnelsPerRelayAndBodySizeLimitsAnswer429Or413() {
        assertProblem(
                relay(
                        "too-deep",
                        Map.of("egress", List.of(Map.of("trust", "ca"), Map.of("trust", "ca"), Map.of("trust", "ca")))),
                429);
        assertProblem(relay("too-many-tunnels", Map.of("options", Map.of("maxTunnels", 51))), 429);
        String huge = "x".repeat(9 * 1024);
        assertProblem(api.post("/credentials", "{\"name\":\"big\",\"certificate\":\"" + huge + "\"}"), 413);
        assertThat(api.get("/relays/too-deep").status()).isEqualTo(404);
    }

    @Test
    void theRelayLimitAnswers429AndTheExistingRelaysKeepServing() throws Exception {
        int before = api.get("/relays").json().size();
        for (int i = before; i < 4; i++) {
            assertThat(relay("filler-" + i, Map.of()).status()).isEqualTo(201);
        }
        assertProblem(relay("one-too-many", Map.of()), 429);
        assertThat(Traffic.echo(port("filler-3"), 64 * 1024).intact()).isTrue();
        for (int i = before; i < 4; i++) {
            api.delete("/relays/filler-" + i);
        }
    }

    @Test
    void tunnelsBeyondARelaysMaximumOrTheServiceMaximumAreClosedAtAcceptWhileOpenOnesWork() throws Exception {
        assertThat(relay("one-at-a-time", Map.of("options", Map.of("maxTunnels", 1)))
                        .status())
                .isEqualTo(201);
        int port = port("one-at-a-time");
        try (Socket first = new Socket(InetAddress.getLoopbackAddress(), port)) {
            first.setSoTimeout(5000);
            first.getOutputStream().write('a');
            assertThat(first.getInputStream().read()).isEqualTo('a');
            try (Socket second = new Socket(InetAddress.getLoopbackAddress(), port)) {
                second.setSoTimeout(5000);
                // Without ingress layers a connection asks for its tunnel with its first byte.
                second.getOutputStream().write('z');
                assertThat(second.getInputStream().read())
                        .as("over the relay's maxTunnels")
                        .isEqualTo(-1);
            }
            first.getOutputStream().write('b');
            assertThat(first.getInputStream().read())
                    .as("the open tunnel still works")
                    .isEqualTo('b');
        }
        assertThat(relay("shared", Map.of()).status()).isEqualTo(201);
        int shared = port("shared");
        Socket[] open = new Socket[3];
        try {
            for (int i = 0; i < 3; i++) {
                open[i] = new Socket(InetAddress.getLoopbackAddress(), shared);
                open[i].setSoTimeout(5000);
                open[i].getOutputStream().write('x');
                assertThat(open[i].getInputStream().read()).isEqualTo('x');
            }
            try (Socket fourth = new Socket(InetAddress.getLoopbackAddress(), shared)) {
                fourth.setSoTimeout(5000);
                fourth.getOutputStream().write('z');
                assertThat(fourth.getInputStream().read())
                        .as("over onion.limits.max-tunnels=3")
                        .isEqualTo(-1);
            }
            assertThat(api.get("/relays/shared")
                            .json()
                            .get("stats")
                            .get("rejectedTunnels")
                            .asLong())
                    .isEqualTo(1);
        } finally {
            for (Socket socket : open) {
                if (socket != null) {
                    socket.close();
                }
            }
        }
        await().atMost(Duration.ofSeconds(5))
                .until(() -> api.get("/relays/shared")
                                .json()
                                .get("stats")
                                .get("activeTunnels")
                                .asInt()
                        == 0);
        api.delete("/relays/one-at-a-time");
        api.delete("/relays/shared");
    }

    @Test
    void idleTunnelsAndTunnelsThatDoNotFinishTheirSetUpInTimeAreClosed() throws Exception {
        assertThat(relay("idle", Map.of("options", Map.of("idleTimeout", "500ms")))
                        .status())
                .isEqualTo(201);
        try (Socket client = new Socket(InetAddress.getLoopbackAddress(), port("idle"))) {
            client.setSoTimeout(10_000);
            client.getOutputStream().write('a');
            InputStream in = client.getInputStream();
            assertThat(in.read()).isEqualTo('a');
            long start = System.nanoTime();
            assertThat(in.read()).as("closed after being idle").isEqualTo(-1);
            assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(5));
        }
        // One server layer with a long handshake timeout: only the 1 s set-up deadline can end a silent client.
        assertThat(relay(
                                "slow-setup",
                                Map.of("ingress", List.of(Map.of("credential", "hop", "handshakeTimeout", "60s"))))
                        .status())
                .isEqualTo(201);
        try (Socket silent = new Socket(InetAddress.getLoopbackAddress(), port("slow-setup"))) {
            silent.setSoTimeout(10_000);
            long start = System.nanoTime();
            assertThat(silent.getInputStream().read()).isEqualTo(-1);
            assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(5));
        }
        api.delete("/relays/idle");
        api.delete("/relays/slow-setup");
    }
}
