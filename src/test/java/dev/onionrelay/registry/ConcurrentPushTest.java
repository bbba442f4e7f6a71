package dev.onionrelay.registry;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.onionrelay.layer.LayerStatus;
import dev.onionrelay.layer.Side;
import dev.onionrelay.relay.Relay;
import dev.onionrelay.relay.RelayException;
import dev.onionrelay.relay.Tunnel;
import dev.onionrelay.relay.TunnelState;
import dev.onionrelay.support.ApiClient;
import dev.onionrelay.support.ApiClient.Response;
import dev.onionrelay.support.RunningService;
import dev.onionrelay.support.Scenario;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Two pushes on one tunnel at the same moment are judged one after the other, on the tunnel's event loop, against the
 * stack as it is: they never both pass {@code onion.limits.max-depth} nor both take one name (issue 23, risk 2). Before,
 * both read the stack off the loop, both passed, and both went on.
 */
@Scenario
class ConcurrentPushTest {

    static final int ROUNDS = 200;
    static final int MAX_DEPTH = 2;

    static RunningService service;
    static RelayRegistry registry;
    static ServerSocket silentTarget;
    static ExecutorService pushers;

    @BeforeAll
    static void start() throws Exception {
        silentTarget = new ServerSocket(0, 500, InetAddress.getLoopbackAddress());
        service = RunningService.inTemporaryDirectory("--onion.limits.max-depth=" + MAX_DEPTH);
        ApiClient api = service.api();
        registry = service.context().getBean(RelayRegistry.class);
        api.post("/credentials", Map.of("name", "ca", "generate", Map.of("ca", true)));
        api.post("/credentials", Map.of("name", "hop", "generate", Map.of("issuer", "ca", "commonName", "localhost")));
        Response created = api.post(
                "/relays",
                Map.of(
                        "name", "live",
                        "target", Map.of("host", "127.0.0.1", "port", silentTarget.getLocalPort()),
                        "options", Map.of("handshakeTimeout", "60s")));
        assertThat(created.status()).as(created.toString()).isEqualTo(201);
        pushers = Executors.newFixedThreadPool(2);
    }

    @AfterAll
    static void stop() throws Exception {
        pushers.shutdownNow();
        service.close();
        silentTarget.close();
    }

    @Test
    void twoConcurrentPushesNeverExceedTheMaximumDepthNorShareAName() throws Exception {
        Relay relay = registry.get("live");
        for (int round = 0; round < ROUNDS; round++) {
            try (Socket client = new Socket(
                    InetAddress.getLoopbackAddress(), relay.spec().listen().port())) {
                // Awaitility waits its poll interval (100 ms by default) before the first look; the tunnel is
                // open within a few ms, so each of the rounds would wait for nothing.
                Tunnel tunnel = await().atMost(Duration.ofSeconds(10))
                        .pollDelay(Duration.ZERO)
                        .pollInterval(Duration.ofMillis(5))
                        .until(
                                () -> relay.tunnels().stream()
                                        .filter(t -> t.state() == TunnelState.OPEN
                                                && t.stack(Side.INGRESS).depth() == 0)
                                        .findFirst()
                                        .orElse(null),
                                t -> t != null);
                List<String> names;
                if (round % 2 == 0) {
                    // One layer already, room for one more: two different names race for the last place.
                    push(tunnel, "base");
                    names = List.of("a", "b");
                } else {
                    // Room for both: two pushes of one name race for it.
                    names = List.of("same", "same");
                }
                List<Object> outcomes = race(tunnel, names);

                List<LayerStatus> layers = tunnel.stack(Side.INGRESS).status();
                Set<String> distinct = new HashSet<>();
                layers.forEach(layer -> distinct.add(layer.name()));
                assertThat(layers.size())
                        .as("round %d depth, outcomes %s", round, outcomes)
                        .isLessThanOrEqualTo(MAX_DEPTH);
                assertThat(distinct)
                        .as("round %d names, outcomes %s", round, outcomes)
                        .hasSize(layers.size());
                assertThat(outcomes.stream()
                                .filter(LayerStatus.class::isInstance)
                                .count())
                        .as("round %d: exactly one of the two goes on: %s", round, outcomes)
                        .isEqualTo(1);
                Object refused = outcomes.stream()
                        .filter(o -> !(o instanceof LayerStatus))
                        .findFirst()
                        .orElseThrow();
                if (round % 2 == 0) {
                    assertThat(refused)
                            .as("round %d", round)
                            .isInstanceOfSatisfying(RelayException.class, e -> assertThat(e.kind())
                                    .isEqualTo(RelayException.Kind.LIMIT));
                } else {
                    assertThat(refused).as("round %d", round).isInstanceOf(InvalidRequestException.class);
                    assertThat(((InvalidRequestException) refused).getMessage()).contains("'same'");
                }
            }
        }
    }

    private static void push(Tunnel tunnel, String name) {
        registry.push("live", tunnel.id(), Side.INGRESS, layer(name));
    }

    /** Both pushes released at once; each outcome is the pushed layer's status or what refused it. */
    private static List<Object> race(Tunnel tunnel, List<String> names) throws Exception {
        CyclicBarrier start = new CyclicBarrier(names.size());
        List<CompletableFuture<Object>> calls = new ArrayList<>();
        for (String name : names) {
            calls.add(CompletableFuture.supplyAsync(
                    () -> {
                        try {
                            start.await(10, TimeUnit.SECONDS);
                            return registry.push("live", tunnel.id(), Side.INGRESS, layer(name));
                        } catch (RuntimeException refused) {
                            return refused;
                        } catch (Exception e) {
                            throw new IllegalStateException(e);
                        }
                    },
                    pushers));
        }
        List<Object> outcomes = new ArrayList<>();
        for (CompletableFuture<Object> call : calls) {
            outcomes.add(call.get(20, TimeUnit.SECONDS));
        }
        return outcomes;
    }

    private static LayerRequest layer(String name) {
        return ApiClient.JSON.convertValue(Map.of("name", name, "credential", "hop"), LayerRequest.class);
    }
}
