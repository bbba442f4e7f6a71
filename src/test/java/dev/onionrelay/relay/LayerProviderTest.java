package dev.onionrelay.relay;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.onionrelay.layer.LayerSpec;
import dev.onionrelay.layer.LayerStatus;
import dev.onionrelay.layer.ProviderChoice;
import dev.onionrelay.layer.Side;
import dev.onionrelay.layer.TlsProvider;
import dev.onionrelay.support.EchoServer;
import dev.onionrelay.support.Layers;
import dev.onionrelay.support.Onions;
import dev.onionrelay.support.Scenario;
import dev.onionrelay.support.Traffic;
import java.net.InetAddress;
import java.net.Socket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The default provider choice ({@code auto}) puts every layer on OpenSSL, whose engine keeps sending after the peer's
 * close_notify once Netty's answer to it is switched off ({@code OpenSslHalfClose}): an end of direction at the
 * minimum depth closes every layer, innermost first, while the answer still travels out through all of them. An entry
 * relay wraps two layers, an exit relay peels them in front of an echo target; the client ends its direction after its
 * last byte and must still get the whole echo back, checked by SHA-256, under TLS 1.3 and under TLS 1.2 (where the
 * JDK engine answers a close_notify at once and stops sending).
 */
@Scenario
class LayerProviderTest {

    static final long BYTES = 8L << 20;
    /** The half-close acceptance figure: 64 MiB each way after the client's end of direction is on its way. */
    static final long HALF_CLOSE_BYTES = 64L << 20;

    static final int CLEAN_ENDS = 6;

    Onions onions;
    EchoServer target;

    @BeforeEach
    void setUp() throws Exception {
        onions = new Onions(ProviderChoice.AUTO, RelayObserver.NONE);
        onions.pki.ca("ca");
        onions.pki.leaf("hop", "ca");
        target = new EchoServer();
    }

    @AfterEach
    void tearDown() throws Exception {
        onions.close();
        target.close();
    }

    private Relay[] onion(String protocol, int minDepth) throws Exception {
        Relay exit = onions.relay(
                "exit",
                target.port(),
                List.of(
                        Layers.withProtocols(Layers.server("outer", "hop"), List.of(protocol)),
                        Layers.withProtocols(Layers.server("inner", "hop"), List.of(protocol))),
                List.of(),
                Onions.options(minDepth, 0));
        List<LayerSpec> egress = List.of(
                Layers.withProtocols(Layers.client("outer", "ca", "localhost"), List.of(protocol)),
                Layers.withProtocols(Layers.client("inner", "ca", "localhost"), List.of(protocol)));
        Relay entry = onions.relay("entry", Onions.port(exit), List.of(), egress, Onions.options(0, minDepth));
        return new Relay[] {entry, exit};
    }

    /** The engine of each live layer on {@code side} of the relay's only tunnel, outermost first. */
    private static List<TlsProvider> providers(Relay relay, Side side) {
        Tunnel tunnel = relay.tunnels().get(0);
        TunnelStatus status = tunnel.status();
        List<TlsProvider> result = new ArrayList<>();
        for (LayerStatus layer : (side == Side.INGRESS ? status.ingress() : status.egress()).layers()) {
            result.add(layer.provider());
        }
        return result;
    }

    /** The providers of both relays' layers while one tunnel is open through them. */
    private static List<List<TlsProvider>> providersOfAnOpenTunnel(Relay entry, Relay exit, String protocol)
            throws Exception {
        try (Socket client = new Socket(InetAddress.getLoopbackAddress(), Onions.port(entry))) {
            await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> {
                assertThat(entry.tunnels()).hasSize(1);
                assertThat(exit.tunnels()).hasSize(1);
                assertThat(exit.tunnels().get(0).status().ingress().depth()).isEqualTo(2);
                assertThat(entry.tunnels().get(0).stack(Side.EGRESS).established())
                        .isTrue();
            });
            assertThat(exit.tunnels().get(0).status().ingress().layers())
                    .extracting(LayerStatus::protocol)
                    .containsOnly(protocol);
            return List.of(providers(entry, Side.EGRESS), providers(exit, Side.INGRESS));
        }
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"TLSv1.3", "TLSv1.2"})
    void atTheDefaultMinimumDepthEveryLayerRunsOnOpenSslAndAnEndedDirectionStillGetsTheWholeAnswer(String protocol)
            throws Exception {
        Relay[] onion = onion(protocol, 2);
        Relay entry = onion[0];
        Relay exit = onion[1];

        Traffic.Echo echo = Traffic.echo(Onions.port(entry), HALF_CLOSE_BYTES);

        // On a short echo, where the bytes stopped: client to target counts as bytesIn, target to client as bytesOut.
        assertThat(echo.intact())
                .as(
                        "%s; entry in/out %d/%d, exit in/out %d/%d",
                        echo,
                        entry.stats().bytesIn(),
                        entry.stats().bytesOut(),
                        exit.stats().bytesIn(),
                        exit.stats().bytesOut())
                .isTrue();
        assertThat(providersOfAnOpenTunnel(entry, exit, protocol))
                .as("entry egress, exit ingress")
                .containsExactly(
                        List.of(TlsProvider.OPENSSL, TlsProvider.OPENSSL),
                        List.of(TlsProvider.OPENSSL, TlsProvider.OPENSSL));
        assertThat(entry.stats().handshakeFailures() + exit.stats().handshakeFailures())
                .isZero();
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"TLSv1.3", "TLSv1.2"})
    void aLayerAboveTheMinimumDepthPopsOnTheCleanEndAndTheAnswerStillArrives(String protocol) throws Exception {
        Relay[] onion = onion(protocol, 1);
        Relay entry = onion[0];
        Relay exit = onion[1];

        // Several tunnels: the peer's answer to the popped layer and the outer layer's close_notify may come in one
        // read or in two, as the scheduler has it; both must end cleanly.
        for (int tunnel = 0; tunnel < CLEAN_ENDS; tunnel++) {
            Traffic.Echo echo = Traffic.echo(Onions.port(entry), BYTES / CLEAN_ENDS);
            assertThat(echo.intact()).as("tunnel %d: %s", tunnel, echo).isTrue();
        }
        assertThat(providersOfAnOpenTunnel(entry, exit, protocol))
                .as("entry egress, exit ingress")
                .containsExactly(
                        List.of(TlsProvider.OPENSSL, TlsProvider.OPENSSL),
                        List.of(TlsProvider.OPENSSL, TlsProvider.OPENSSL));
        assertThat(entry.stats().handshakeFailures() + exit.stats().handshakeFailures())
                .isZero();
    }

    @org.junit.jupiter.api.Test
    void aLayerPushedAtTheMinimumDepthAndPoppedAgainLeavesTheLayerAtTheMinimumDepthKeepingHalfClose() throws Exception {
        Relay exit = onions.relay(
                "exit", target.port(), List.of(Layers.server("base", "hop")), List.of(), Onions.options(1, 0));
        Relay entry = onions.relay(
                "entry",
                Onions.port(exit),
                List.of(),
                List.of(Layers.client("base", "ca", "localhost")),
                Onions.options(0, 1));
        try (Socket client = new Socket(InetAddress.getLoopbackAddress(), Onions.port(entry))) {
            client.setSoTimeout(30_000);
            roundTrip(client, "before");
            Tunnel entryTunnel = entry.tunnels().get(0);
            Tunnel exitTunnel = exit.tunnels().get(0);

            // startTLS on both ends of the link at the same point of the stream: the server layer first, so that it
            // waits for the ClientHello the client layer sends as soon as it is pushed.
            LayerStatus exitPushed = exitTunnel
                    .push(Side.INGRESS, onions.preparePush(Layers.server("extra", "hop"), 1, 1))
                    .get();
            LayerStatus entryPushed = entryTunnel
                    .push(Side.EGRESS, onions.preparePush(Layers.client("extra", "ca", "localhost"), 1, 1))
                    .get();
            assertThat(List.of(exitPushed.provider(), entryPushed.provider()))
                    .as("pushed layers run on OpenSSL too")
                    .containsOnly(TlsProvider.OPENSSL);
            await().atMost(Duration.ofSeconds(10))
                    .until(() -> entryTunnel.stack(Side.EGRESS).established()
                            && exitTunnel.stack(Side.INGRESS).established());
            roundTrip(client, "inside the pushed layer");
            assertThat(providers(entry, Side.EGRESS)).containsExactly(TlsProvider.OPENSSL, TlsProvider.OPENSSL);
            assertThat(providers(exit, Side.INGRESS)).containsExactly(TlsProvider.OPENSSL, TlsProvider.OPENSSL);

            // stopTLS from the entry; the exit pops on its close_notify. Back at the minimum depth.
            entryTunnel.popLocal(Side.EGRESS).get();
            await().atMost(Duration.ofSeconds(10))
                    .until(() -> entryTunnel.stack(Side.EGRESS).depth() == 1
                            && exitTunnel.stack(Side.INGRESS).depth() == 1);
            assertThat(providers(entry, Side.EGRESS)).containsExactly(TlsProvider.OPENSSL);
            assertThat(providers(exit, Side.INGRESS)).containsExactly(TlsProvider.OPENSSL);

            // The client ends its direction on the same tunnel and still gets the whole echo.
            Traffic.Echo echo = Traffic.echoOn(client, BYTES);
            assertThat(echo.intact()).as(echo.toString()).isTrue();
        }
    }

    private static void roundTrip(Socket client, String text) throws Exception {
        byte[] sent = text.getBytes(java.nio.charset.StandardCharsets.US_ASCII);
        client.getOutputStream().write(sent);
        client.getOutputStream().flush();
        byte[] back = client.getInputStream().readNBytes(sent.length);
        assertThat(new String(back, java.nio.charset.StandardCharsets.US_ASCII)).isEqualTo(text);
    }
}
