package dev.onionrelay.deploy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.onionrelay.support.ApiClient;
import dev.onionrelay.support.ApiOnion;
import dev.onionrelay.support.EchoServer;
import dev.onionrelay.support.RunningService;
import dev.onionrelay.support.Scenario;
import dev.onionrelay.support.Traffic;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import tools.jackson.databind.JsonNode;

/**
 * {@code PUT /credentials/{name}} on one instance with the directory store, while a 64 MiB echo streams through a
 * depth-2 onion (entry wrapping two layers, exit peeling two layers that present {@code hop}) opened before: the echo
 * completes intact on the old material, and the next handshake uses the new one. First an identity (new serial),
 * then a trust credential (a new CA: refused until the exit's identity is issued by it too). The rotation survives a
 * restart of the service.
 */
@Scenario
class CredentialPutRotationTest {

    private static final long STREAM = 64L << 20;

    @TempDir
    Path state;

    private EchoServer echo;
    private RunningService service;
    private ApiClient api;
    private int exitPort;
    private int entryPort;

    @BeforeEach
    void buildTheOnion() throws Exception {
        echo = new EchoServer();
        service = new RunningService(state);
        api = service.api();
        ApiOnion.credentials(api, "hop-1");
        exitPort = ApiOnion.created(api.post("/relays", ApiOnion.exit(0, echo.port())));
        entryPort = ApiOnion.created(api.post("/relays", ApiOnion.entry(0, exitPort)));
    }

    @AfterEach
    void stop() throws IOException {
        service.close();
        echo.close();
    }

    @Test
    void anIdentityRotatedWhileATunnelStreamsServesTheNewSerialToTheNextHandshake() throws Exception {
        String before = ApiOnion.serial(api, "hop");
        assertThat(ApiOnion.serials("127.0.0.1", exitPort, 2)).containsExactly(before, before);

        Traffic.Echo streamed = Traffic.echoThenClose(entryPort, STREAM, 8L << 20, () -> {
            ApiClient.Response rotated = put("/credentials/hop", "{\"generate\":" + ApiOnion.hopRequest("hop-2") + "}");
            assertThat(rotated.status()).as(rotated.toString()).isEqualTo(200);
            JsonNode view = rotated.json();
            assertThat(view.at("/version").asLong()).isEqualTo(2);
            assertThat(view.at("/rotatedAt").isNull()).isFalse();
            assertThat(view.at("/subject").asString()).isEqualTo("CN=hop-2");
            assertThat(view.at("/usedBy").toString()).contains("exit");
            String after = view.at("/serial").asString();
            assertThat(after).isNotEqualTo(before);

            // The very next handshake of each layer presents the new certificate; no waiting.
            assertThat(serialsOfExit()).containsExactly(after, after);
            assertThat(echoThroughANewTunnel()).isTrue();
            // The tunnel opened before still runs on the certificate its handshakes saw.
            awaitOnlyTheOldTunnelOnHop1();
        });

        assertThat(streamed.intact())
                .as("the 64 MiB echo opened before the rotation")
                .isTrue();
        String after = ApiOnion.serial(api, "hop");
        service.stop();
        service.start();
        api = service.api();
        assertThat(api.get("/credentials/hop").json().at("/version").asLong()).isEqualTo(2);
        assertThat(ApiOnion.serial(api, "hop")).as("after a restart").isEqualTo(after);
        assertThat(ApiOnion.serials("127.0.0.1", exitPort, 2)).containsExactly(after, after);
    }

    @Test
    void aTrustCredentialRotatedToANewCaIsWhatTheNextHandshakeVerifiesWith() throws Exception {
        Traffic.Echo streamed = Traffic.echoThenClose(entryPort, STREAM, 8L << 20, () -> {
            ApiClient.Response newCa =
                    put("/credentials/ca", "{\"generate\":{\"ca\":true,\"commonName\":\"onion test CA 2\"}}");
            assertThat(newCa.status()).as(newCa.toString()).isEqualTo(200);
            assertThat(newCa.json().at("/version").asLong()).isEqualTo(2);

            // The entry now trusts CA 2 only, and the exit still presents a certificate of CA 1: refused.
            assertThat(echoThroughANewTunnel()).isFalse();
            await().atMost(Duration.ofSeconds(10))
                    .until(() -> api.get("/relays/entry")
                                    .json()
                                    .at("/stats/handshakeFailures")
                                    .asLong()
                            > 0);

            ApiClient.Response hop = put("/credentials/hop", "{\"generate\":" + ApiOnion.hopRequest("hop-2") + "}");
            assertThat(hop.status()).as(hop.toString()).isEqualTo(200);
            assertThat(hop.json().at("/issuer").asString()).isEqualTo("CN=onion test CA 2");
            assertThat(echoThroughANewTunnel()).isTrue();
            awaitOnlyTheOldTunnelOnHop1();
        });

        assertThat(streamed.intact()).as("the 64 MiB echo opened under CA 1").isTrue();
    }

    private ApiClient.Response put(String path, String json) {
        return api.send("PUT", path, json);
    }

    private List<String> serialsOfExit() {
        try {
            return ApiOnion.serials("127.0.0.1", exitPort, 2);
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }

    /** A new tunnel through the whole onion carries 1 MiB intact; false if the onion refuses it. */
    private boolean echoThroughANewTunnel() {
        try {
            return Traffic.echoThenClose(entryPort, 1 << 20).intact();
        } catch (Exception refused) {
            return false;
        }
    }

    /** Once the new tunnels have closed, the one left is the tunnel opened before, on the old certificate. */
    private void awaitOnlyTheOldTunnelOnHop1() {
        await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> assertThat(egressPeersOfOpenTunnels())
                .containsExactly(List.of("CN=hop-1", "CN=hop-1")));
    }

    /** The peers the egress layers of each open tunnel of the entry verified, tunnel by tunnel. */
    private List<List<String>> egressPeersOfOpenTunnels() {
        JsonNode tunnels = api.get("/relays/entry/tunnels").json();
        return tunnels.valueStream()
                .map(tunnel -> tunnel.at("/egress/layers")
                        .valueStream()
                        .map(layer -> layer.at("/peer").asString())
                        .toList())
                .toList();
    }
}
