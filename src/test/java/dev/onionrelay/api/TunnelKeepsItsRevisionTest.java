package dev.onionrelay.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.onionrelay.support.ApiClient;
import dev.onionrelay.support.ApiOnion;
import dev.onionrelay.support.EchoServer;
import dev.onionrelay.support.RunningService;
import dev.onionrelay.support.Scenario;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import tools.jackson.databind.JsonNode;

/**
 * A tunnel runs on the revision of its relay's definition it was accepted under, from its set-up to its end, whatever
 * {@code PUT /relays/{id}} does meanwhile (API.md: open tunnels keep the definition they were opened with). One whose
 * set-up straddles a replacement does not mix the two: a client connects under revision 1 and starts its ingress
 * handshake only after a PUT changed the ingress layer, the target and the egress layers; its tunnel still dials
 * revision 1's target through revision 1's egress layer. Open and straddling tunnels keep revision 1's half-close
 * mode and minimum depth after a PUT changed them; tunnels accepted after the PUT take revision 2.
 *
 * <p>The targets are two exits with one and two ingress layers, both in front of one echo: an egress stack of the
 * wrong depth would fail its handshakes there, so each tunnel's echo proves which stack it really pushed.
 */
@Scenario
class TunnelKeepsItsRevisionTest {

    @TempDir
    Path state;

    private EchoServer echo;
    private RunningService service;
    private ApiClient api;
    private int oneLayerExit;
    private int twoLayerExit;

    @BeforeEach
    void start() throws Exception {
        echo = new EchoServer();
        // A client whose set-up the test holds (connected, its ingress handshake not started) must not meet the
        // first-byte or set-up deadline on a loaded machine.
        service =
                new RunningService(state, "--onion.limits.first-byte-timeout=60s", "--onion.limits.setup-timeout=120s");
        api = service.api();
        ApiOnion.credentials(api, "hop");
        twoLayerExit = ApiOnion.created(api.post("/relays", ApiOnion.exit(0, echo.port())));
        oneLayerExit = ApiOnion.created(api.post("/relays", """
                {"name":"exit-1","listen":{"host":"127.0.0.1","port":0},"target":{"host":"127.0.0.1","port":%d},
                 "ingress":[{"name":"outer","credential":"hop"}]}""".formatted(echo.port())));
    }

    @AfterEach
    void stop() throws IOException {
        service.close();
        echo.close();
    }

    @Test
    void aTunnelWhoseSetUpStraddlesAReplacementRunsOnTheRevisionItWasAcceptedUnder() throws Exception {
        // Revision 1: one ingress layer, then one egress layer to the one-layer exit. The ingress handshake may take
        // long, so that the client decides when the set-up goes on.
        int entryPort = ApiOnion.created(api.post("/relays", """
                {"name":"entry","listen":{"host":"127.0.0.1","port":0},"target":{"host":"127.0.0.1","port":%d},
                 "ingress":[{"name":"front-1","credential":"hop","handshakeTimeout":"2m"}],
                 "egress":[{"name":"old","trust":"ca","serverName":"localhost"}]}""".formatted(oneLayerExit)));

        try (Socket straddling = new Socket(InetAddress.getLoopbackAddress(), entryPort)) {
            straddling.setSoTimeout(30_000);
            // Accepted under revision 1; its ingress handshake has not started, so it has not dialed yet.
            await().atMost(Duration.ofSeconds(20)).untilAsserted(() -> assertThat(tunnels())
                    .extracting(t ->
                            t.at("/revision").asLong() + " " + t.at("/state").asString())
                    .containsExactly("1 HANDSHAKING"));

            // Revision 2: another ingress layer, the two-layer exit, two other egress layers.
            ApiClient.Response replaced = api.send("PUT", "/relays/entry", """
                    {"name":"entry","listen":{"host":"127.0.0.1","port":%d},"target":{"host":"127.0.0.1","port":%d},
                     "ingress":[{"name":"front-2","credential":"hop","handshakeTimeout":"2m"}],
                     "egress":[{"name":"new-outer","trust":"ca","serverName":"localhost"},
                               {"name":"new-inner","trust":"ca","serverName":"localhost"}]}""".formatted(entryPort, twoLayerExit));
            assertThat(replaced.status()).as(replaced.toString()).isEqualTo(200);
            assertThat(replaced.json().at("/revision").asLong()).isEqualTo(2);

            // Now the set-up goes on: the ingress handshake, then the dial and the egress handshakes.
            Socket tls = ApiOnion.tlsOver(straddling, entryPort);
            assertThat(echoes(tls, 64 << 10))
                    .as("an echo through the tunnel that straddled the replacement; tunnels: %s", tunnels())
                    .isTrue();
            assertThat(describe(tunnels().get(0)))
                    .as("the straddling tunnel: revision 1 from end to end")
                    .isEqualTo("revision 1, ingress [front-1], egress [old], target 127.0.0.1:" + oneLayerExit);

            // A tunnel accepted after the replacement runs on revision 2, side by side with the older one.
            try (Socket fresh = new Socket(InetAddress.getLoopbackAddress(), entryPort)) {
                fresh.setSoTimeout(30_000);
                Socket freshTls = ApiOnion.tlsOver(fresh, entryPort);
                assertThat(echoes(freshTls, 64 << 10))
                        .as("an echo through a new tunnel")
                        .isTrue();
                assertThat(tunnels().stream().map(TunnelKeepsItsRevisionTest::describe))
                        .containsExactly(
                                "revision 1, ingress [front-1], egress [old], target 127.0.0.1:" + oneLayerExit,
                                "revision 2, ingress [front-2], egress [new-outer, new-inner], target 127.0.0.1:"
                                        + twoLayerExit);
            }
        }
    }

    @Test
    void openAndStraddlingTunnelsKeepTheirHalfCloseModeAndMinimumDepthAfterAReplacementChangesThem() throws Exception {
        // Revision 1 passes the client's end on at once (propagate) and keeps its one egress layer (minimum depth 1).
        String entry = """
                {"name":"entry","listen":{"host":"127.0.0.1","port":%d},"target":{"host":"127.0.0.1","port":%d},
                 "ingress":[{"name":"front","credential":"hop","handshakeTimeout":"2m"}],
                 "egress":[{"name":"outer","trust":"ca","serverName":"localhost"}],
                 "options":{"halfClose":"%s","halfCloseTimeout":"2m","minDepth":{"egress":%d}}}""";
        int entryPort = ApiOnion.created(api.post("/relays", entry.formatted(0, oneLayerExit, "propagate", 1)));

        try (Socket openTcp = new Socket(InetAddress.getLoopbackAddress(), entryPort)) {
            openTcp.setSoTimeout(30_000);
            Socket open = ApiOnion.tlsOver(openTcp, entryPort);
            assertThat(echoes(open, 64 << 10)).as("the first tunnel is open").isTrue();
            // The second is accepted under revision 1 too, its set-up held before its ingress handshake.
            Socket straddlingTcp = new Socket(InetAddress.getLoopbackAddress(), entryPort);
            straddlingTcp.setSoTimeout(30_000);
            await().atMost(Duration.ofSeconds(20)).untilAsserted(() -> assertThat(tunnels())
                    .extracting(t ->
                            t.at("/revision").asLong() + " " + t.at("/state").asString())
                    .containsExactly("1 OPEN", "1 HANDSHAKING"));

            // Revision 2 holds the client's end until the target ends its own (an echo never does first) or for 2
            // minutes, and may pop its egress layer.
            ApiClient.Response replaced =
                    api.send("PUT", "/relays/entry", entry.formatted(entryPort, oneLayerExit, "hold", 0));
            assertThat(replaced.status()).as(replaced.toString()).isEqualTo(200);
            assertThat(replaced.json().at("/options/halfClose").asString()).isEqualTo("hold");

            Socket straddling = ApiOnion.tlsOver(straddlingTcp, entryPort);
            assertThat(echoes(straddling, 64 << 10))
                    .as("the straddling tunnel is open")
                    .isTrue();
            assertThat(tunnels())
                    .extracting(t -> t.at("/revision").asLong() + " minDepth "
                            + t.at("/egress/minDepth").asInt())
                    .as("both tunnels on revision 1's egress minimum depth, as status shows it")
                    .containsExactly("1 minDepth 1", "1 minDepth 1");

            // Propagate, as revision 1 says: the client's end (close_notify at the minimum depth) reaches the echo,
            // which ends its side, and that end comes back. Under revision 2 (hold) nothing would for 2 minutes.
            for (Socket client : List.of(open, straddling)) {
                client.shutdownOutput();
                assertThat(client.getInputStream().read())
                        .as("the end of the echo's direction, after the client ended its own")
                        .isEqualTo(-1);
            }
            straddling.close();
        }

        // A tunnel accepted after the PUT holds the client's end: the echo never sees it, so it never ends its side.
        try (Socket heldTcp = new Socket(InetAddress.getLoopbackAddress(), entryPort)) {
            heldTcp.setSoTimeout(30_000);
            Socket held = ApiOnion.tlsOver(heldTcp, entryPort);
            assertThat(echoes(held, 64 << 10)).as("a new tunnel is open").isTrue();
            await().atMost(Duration.ofSeconds(20)).untilAsserted(() -> assertThat(tunnels())
                    .extracting(t -> t.at("/revision").asLong() + " minDepth "
                            + t.at("/egress/minDepth").asInt())
                    .containsExactly("2 minDepth 0"));
            held.shutdownOutput();
            held.setSoTimeout(1_000);
            InputStream in = held.getInputStream();
            assertThatThrownBy(in::read)
                    .as("the new tunnel holds the client's end (revision 2)")
                    .isInstanceOf(SocketTimeoutException.class);
        }
    }

    /** A tunnel as these tests compare it: its revision, the names of its layers and where it connected. */
    private static String describe(JsonNode tunnel) {
        return "revision " + tunnel.at("/revision").asLong() + ", ingress " + names(tunnel.at("/ingress/layers"))
                + ", egress " + names(tunnel.at("/egress/layers")) + ", target "
                + tunnel.at("/connected/target").asString();
    }

    private static List<String> names(JsonNode layers) {
        return layers.valueStream().map(layer -> layer.at("/name").asString()).toList();
    }

    private List<JsonNode> tunnels() {
        return api.get("/relays/entry/tunnels").json().valueStream().toList();
    }

    /** Sends {@code bytes} pseudo-random bytes on {@code socket} and reads as many back: whether they came back. */
    private static boolean echoes(Socket socket, int bytes) throws IOException {
        byte[] sent = new byte[bytes];
        new Random(bytes).nextBytes(sent);
        socket.getOutputStream().write(sent);
        socket.getOutputStream().flush();
        return Arrays.equals(sent, socket.getInputStream().readNBytes(bytes));
    }
}
