package dev.onionrelay.layer.allow;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.onionrelay.support.ApiClient;
import dev.onionrelay.support.ApiOnion;
import dev.onionrelay.support.EchoServer;
import dev.onionrelay.support.Exposition;
import dev.onionrelay.support.RunningService;
import dev.onionrelay.support.Scenario;
import dev.onionrelay.support.Traffic;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 26, acceptance 4: {@code allow} changed on a live relay with {@code PUT /relays/{id}}. An exit whose layer
 * allows the SPIFFE IDs under {@code spiffe://test.example/ns/web/} carries a tunnel of the {@code frontend} workload;
 * the exit is replaced with an allow list that names another workload only. The next handshake of {@code frontend} is
 * refused with {@code access_denied}, while its established tunnel streams on to the end, intact, and the listener
 * never closed (same port).
 */
@Scenario
class AllowReplacedLiveTest {

    private static final long STREAM = 16L << 20;
    private static final String FRONTEND = "spiffe://test.example/ns/web/sa/frontend";

    @TempDir
    Path state;

    @Test
    void aNarrowedAllowRefusesTheNextHandshakeAndLetsTheOpenTunnelFinish() throws Exception {
        try (EchoServer echo = new EchoServer();
                RunningService service = new RunningService(state)) {
            ApiClient api = service.api();
            ApiOnion.credentials(api, "localhost");
            ApiOnion.created(api.post("/credentials", """
                    {"name":"frontend","generate":{"issuer":"ca","commonName":"frontend","uris":["%s"]}}""".formatted(FRONTEND)));
            int exitPort =
                    ApiOnion.created(api.post("/relays", exit(0, echo.port(), "spiffe://test.example/ns/web/*")));
            int entryPort = ApiOnion.created(api.post("/relays", """
                    {"name":"entry","listen":{"host":"127.0.0.1","port":0},"target":{"host":"127.0.0.1","port":%d},
                     "egress":[{"name":"outer","trust":"ca","serverName":"localhost","credential":"frontend"}]}""".formatted(exitPort)));

            CountDownLatch midway = new CountDownLatch(1);
            CountDownLatch replaced = new CountDownLatch(1);
            CompletableFuture<Traffic.Echo> open = CompletableFuture.supplyAsync(() -> {
                try {
                    return Traffic.echoThenClose(entryPort, STREAM, STREAM / 4, () -> {
                        midway.countDown();
                        try {
                            replaced.await(60, TimeUnit.SECONDS);
                        } catch (InterruptedException e) {
                            Thread.currentThread().interrupt();
                        }
                    });
                } catch (Exception e) {
                    throw new AssertionError(e);
                }
            });
            assertThat(midway.await(60, TimeUnit.SECONDS))
                    .as("frontend's tunnel streaming")
                    .isTrue();

            ApiClient.Response answer = api.send(
                    "PUT", "/relays/exit", exit(exitPort, echo.port(), "spiffe://test.example/ns/web/sa/other"));
            assertThat(answer.status()).as(answer.toString()).isEqualTo(200);
            assertThat(answer.json().at("/listen/port").asInt()).isEqualTo(exitPort);
            assertThat(answer.json().at("/ingress/0/allow/uris/0").asString())
                    .isEqualTo("spiffe://test.example/ns/web/sa/other");

            assertThat(ApiOnion.roundTrip("127.0.0.1", entryPort, 1024))
                    .as("frontend's next tunnel, after the change")
                    .isFalse();
            await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> assertThat(accessDenied(service.management()))
                    .as("exit refusals counted access_denied")
                    .isPositive());

            replaced.countDown();
            Traffic.Echo echoed = open.get(120, TimeUnit.SECONDS);
            assertThat(echoed.intact())
                    .as("the tunnel established before the change, to its end")
                    .isTrue();
        }
    }

    /** The exit: one server layer presenting {@code hop}, requiring a client certificate from {@code ca}. */
    private static String exit(int listenPort, int targetPort, String allowedUri) {
        return """
                {"name":"exit","listen":{"host":"127.0.0.1","port":%d},"target":{"host":"127.0.0.1","port":%d},
                 "ingress":[{"name":"outer","credential":"hop","clientAuth":"require","trust":"ca",
                             "allow":{"uris":["%s"]}}]}""".formatted(listenPort, targetPort, allowedUri);
    }

    private static double accessDenied(ApiClient management) {
        return Exposition.scrape(management)
                .sum("onion_handshake_failures_total", Map.of("reason", "access_denied", "relay", "exit"));
    }
}
