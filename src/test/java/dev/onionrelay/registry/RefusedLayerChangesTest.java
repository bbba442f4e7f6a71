package dev.onionrelay.registry;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;
import static org.awaitility.Awaitility.await;

import dev.onionrelay.layer.Side;
import dev.onionrelay.relay.RelayException;
import dev.onionrelay.support.ApiClient;
import dev.onionrelay.support.ApiClient.Response;
import dev.onionrelay.support.RunningService;
import dev.onionrelay.support.Scenario;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;

/**
 * The rules for changing a live tunnel's layers live in the registry, not in the HTTP layer: the same refused push or
 * pop, asked over the API and through {@link RelayRegistry}'s Java method, is refused for the same reason with the
 * status that reason's kind maps to, and leaves the tunnel as it was.
 */
@Scenario
class RefusedLayerChangesTest {

    static RunningService service;
    static ApiClient api;
    static RelayRegistry registry;
    /** A target that accepts (in its backlog) and never answers: tunnels stay open, or half-closed, as long as needed. */
    static ServerSocket silentTarget;

    static final List<Socket> clients = new ArrayList<>();

    @BeforeAll
    static void start() throws Exception {
        silentTarget = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        service = RunningService.inTemporaryDirectory("--onion.limits.max-depth=1");
        api = service.api();
        registry = service.context().getBean(RelayRegistry.class);
        api.post("/credentials", Map.of("name", "ca", "generate", Map.of("ca", true)));
        api.post("/credentials", Map.of("name", "hop", "generate", Map.of("issuer", "ca", "commonName", "localhost")));
        Response created = api.post(
                "/relays",
                Map.of(
                        "name", "live",
                        "target", Map.of("host", "127.0.0.1", "port", silentTarget.getLocalPort()),
                        "options", Map.of("handshakeTimeout", "60s", "halfClose", "hold")));
        assertThat(created.status()).as(created.toString()).isEqualTo(201);
    }

    @AfterAll
    static void stop() throws Exception {
        for (Socket client : clients) {
            client.close();
        }
        service.close();
        silentTarget.close();
    }

    /** A new plaintext client connection through the relay; returns its tunnel id once the tunnel is open. */
    private static String openTunnel() throws Exception {
        List<String> before = tunnelIds();
        Socket client = new Socket(
                InetAddress.getLoopbackAddress(),
                api.get("/relays/live").json().get("listen").get("port").asInt());
        clients.add(client);
        return await().atMost(Duration.ofSeconds(10))
                .until(
                        () -> {
                            for (JsonNode tunnel :
                                    api.get("/relays/live/tunnels").json()) {
                                if (!before.contains(tunnel.get("id").asString())
                                        && "OPEN".equals(tunnel.get("state").asString())) {
                                    return tunnel.get("id").asString();
                                }
                            }
                            return null;
                        },
                        id -> id != null);
    }

    private static List<String> tunnelIds() {
        List<String> ids = new ArrayList<>();
        api.get("/relays/live/tunnels").json().forEach(t -> ids.add(t.get("id").asString()));
        return ids;
    }

    private static int depth(String tunnel, String side) {
        return api.get("/relays/live/tunnels/" + tunnel)
                .json()
                .get(side)
                .get("depth")
                .asInt();
    }

    /** What the API answered, as (status, detail). */
    private static String overHttp(Response response) {
        return response.status() + " " + response.json().get("detail").asString();
    }

    /** What the registry threw, as the status its kind maps to and its message. */
    private static String throughJava(Runnable call) {
        Throwable thrown = catchThrowable(call::run);
        assertThat(thrown).as("the Java call is refused too").isNotNull();
        int status = thrown instanceof RelayException e
                ? switch (e.kind()) {
                    case INVALID -> 400;
                    case FORBIDDEN -> 403;
                    case NOT_FOUND -> 404;
                    case CONFLICT -> 409;
                    case LIMIT -> 429;
                    case UNAVAILABLE -> 503;
                }
                : thrown instanceof InvalidRequestException ? 400 : 500;
        return status + " " + thrown.getMessage();
    }

    private static void refusedAlike(String tunnel, String side, Map<String, Object> layer, int status) {
        int depth = depth(tunnel, side);
        String http = overHttp(api.post("/relays/live/tunnels/" + tunnel + "/" + side + "/layers", layer));
        String viaJava = throughJava(
                () -> registry.push("live", tunnel, Side.valueOf(side.toUpperCase(Locale.ROOT)), layerRequest(layer)));
        assertThat(http).startsWith(status + " ").isEqualTo(viaJava);
        assertThat(depth(tunnel, side)).as("nothing pushed").isEqualTo(depth);
    }

    private static LayerRequest layerRequest(Map<String, Object> layer) {
        return ApiClient.JSON.convertValue(layer, LayerRequest.class);
    }

    @Test
    void verifyNoneOnALayerThatChecksPeersIsForbiddenBothWays() throws Exception {
        refusedAlike(
                openTunnel(),
                "ingress",
                Map.of("name", "x", "credential", "hop", "clientAuth", "require", "verify", "none"),
                403);
    }

    @Test
    void aLayerTheMappingRefusesNamesTheFieldBothWays() throws Exception {
        refusedAlike(openTunnel(), "egress", Map.of("name", "x", "role", "sideways"), 400);
    }

    @Test
    void aPushPastTheMaximumDepthIsALimitBothWays() throws Exception {
        String tunnel = openTunnel();
        Response first = api.post(
                "/relays/live/tunnels/" + tunnel + "/ingress/layers", Map.of("name", "first", "credential", "hop"));
        assertThat(first.status()).as(first.toString()).isEqualTo(201);
        refusedAlike(tunnel, "ingress", Map.of("name", "second", "credential", "hop"), 429);
    }

    @Test
    void aPushOnAHalfClosedTunnelIsAConflictBothWays() throws Exception {
        String tunnel = openTunnel();
        clients.get(clients.size() - 1).shutdownOutput();
        await().atMost(Duration.ofSeconds(10)).until(() -> "HALF_CLOSED"
                .equals(api.get("/relays/live/tunnels/" + tunnel)
                        .json()
                        .get("state")
                        .asString()));
        refusedAlike(tunnel, "egress", Map.of("name", "x", "trust", "ca"), 409);
    }

    @Test
    void aPopAtTheMinimumDepthIsAConflictBothWays() throws Exception {
        String tunnel = openTunnel();
        String http = overHttp(api.delete("/relays/live/tunnels/" + tunnel + "/ingress/layers/innermost"));
        String viaJava = throughJava(() -> registry.pop("live", tunnel, Side.INGRESS));
        assertThat(http).startsWith("409 ").isEqualTo(viaJava);
    }
}
