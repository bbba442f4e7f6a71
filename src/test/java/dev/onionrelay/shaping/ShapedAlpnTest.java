package dev.onionrelay.shaping;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.onionrelay.layer.Side;
import dev.onionrelay.layer.TlsProvider;
import dev.onionrelay.relay.Relay;
import dev.onionrelay.relay.RelayObserver;
import dev.onionrelay.support.EchoServer;
import dev.onionrelay.support.Layers;
import dev.onionrelay.support.Onions;
import dev.onionrelay.support.OpenSsl;
import dev.onionrelay.support.Scenario;
import java.io.IOException;
import java.net.InetAddress;
import java.net.Socket;
import java.net.SocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * A layer with {@code padding: "on"} speaks only to a peer that negotiates {@code onion-shaped/1} by ALPN: a client
 * that offers another protocol, one that offers none (openssl s_client, as any ordinary TLS client) and an onion-relay
 * client whose layer is plain all fail on that layer with reason {@code no_application_protocol}, and nothing reaches
 * the target; a shaped client layer against a plain server fails the same way on the client's side. Neither engine
 * refuses the mismatch in the handshake itself (netty-tcnative's BoringSSL only accepts without ALPN; no engine checks
 * for a missing ALPN extension): the handshake completes, the relay sends {@code no_application_protocol} (on the JDK
 * engine; on OpenSSL where its native alert call is available, Java 22+) and closes before a byte passes.
 */
@Scenario
class ShapedAlpnTest {

    @TempDir
    Path directory;

    final List<String> failures = new CopyOnWriteArrayList<>();
    Onions onions;
    EchoServer target;

    @AfterEach
    void tearDown() throws Exception {
        onions.close();
        target.close();
    }

    private void start(TlsProvider provider) throws Exception {
        onions = new Onions(provider, new RelayObserver() {
            @Override
            public void handshakeFailed(Relay relay, Side side, String layer, String reason, SocketAddress peer) {
                failures.add(relay.spec().name() + " " + side.label() + "/" + layer + " " + reason);
            }
        });
        onions.pki.ca("ca");
        onions.pki.leaf("exit", "ca");
        target = new EchoServer();
    }

    private Relay shapedExit() throws Exception {
        return onions.relay(
                "exit", target.port(), List.of(Layers.server("L0", "exit").withPadding(true)), List.of());
    }

    @ParameterizedTest
    @EnumSource(TlsProvider.class)
    void aClientOfferingAnotherProtocolOrNoneFailsWithNoApplicationProtocol(TlsProvider provider) throws Exception {
        start(provider);
        int port = Onions.port(shapedExit());

        OpenSsl.Result otherProtocol = sClient(port, "-alpn", "h2");
        OpenSsl.Result noAlpn = sClient(port);

        await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> assertThat(failures)
                .containsExactly("exit ingress/L0 no_application_protocol", "exit ingress/L0 no_application_protocol"));
        // BoringSSL through netty-tcnative lets that handshake finish (it cannot refuse an ALPN mismatch); the relay
        // then sends the alert through its native alert call (OpenSslFatalAlerts) and closes before a byte passes.
        for (OpenSsl.Result refused : List.of(otherProtocol, noAlpn)) {
            assertThat(refused.output())
                    .as("the alert the client received")
                    .containsIgnoringCase("alert no application protocol");
        }
        assertThat(noAlpn.output()).doesNotContain("onion-shaped/1");
        assertThat(target.connections()).as("nothing reached the target").isZero();
    }

    @ParameterizedTest
    @EnumSource(TlsProvider.class)
    void aPlainOnionRelayLayerAndAShapedOneDoNotTalk(TlsProvider provider) throws Exception {
        start(provider);
        Relay plainEntry = onions.relay(
                "plain", Onions.port(shapedExit()), List.of(), List.of(Layers.client("L0", "ca", "localhost")));
        Relay plainExit = onions.relay("plainExit", target.port(), List.of(Layers.server("L0", "exit")), List.of());
        Relay shapedEntry = onions.relay(
                "shaped",
                Onions.port(plainExit),
                List.of(),
                List.of(Layers.client("L0", "ca", "localhost").withPadding(true)));

        assertThat(echoed(Onions.port(plainEntry))).isZero();
        assertThat(target.connections())
                .as("nothing reached the shaped exit's target")
                .isZero();
        assertThat(echoed(Onions.port(shapedEntry))).isZero();

        await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> assertThat(failures)
                .contains("exit ingress/L0 no_application_protocol", "shaped egress/L0 no_application_protocol"));
    }

    /** Bytes echoed back through a tunnel from {@code port} for 16 sent, until the tunnel ends. */
    private static int echoed(int port) {
        try (Socket socket = new Socket(InetAddress.getLoopbackAddress(), port)) {
            socket.setSoTimeout(20_000);
            socket.getOutputStream().write(new byte[16]);
            return socket.getInputStream().readAllBytes().length;
        } catch (IOException ended) {
            return 0;
        }
    }

    private OpenSsl.Result sClient(int port, String... extra) {
        List<String> args = new java.util.ArrayList<>(List.of(
                "s_client",
                "-connect",
                "127.0.0.1:" + port,
                "-servername",
                "localhost",
                "-tls1_3",
                // Reads until the relay closes: the OpenSSL engine's alert comes after a finished handshake,
                // and s_client would otherwise leave at its input's end before it arrives.
                "-ign_eof"));
        args.addAll(List.of(extra));
        return OpenSsl.execute(directory, args.toArray(String[]::new));
    }
}
