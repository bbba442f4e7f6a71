package dev.onionrelay.relay;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.entry;
import static org.awaitility.Awaitility.await;

import dev.onionrelay.credential.PemCodec;
import dev.onionrelay.layer.LayerSpec;
import dev.onionrelay.layer.Side;
import dev.onionrelay.layer.TlsProvider;
import dev.onionrelay.support.EchoServer;
import dev.onionrelay.support.Layers;
import dev.onionrelay.support.Onions;
import dev.onionrelay.support.Scenario;
import java.io.File;
import java.net.SocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.BiFunction;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The reasons a relay records when everyday TLS clients refuse it or are refused, on both providers: curl, {@code
 * openssl s_client} (TLS 1.3, 1.2 and 1.1) and Python's {@code ssl} against a one-layer relay.
 *
 * <p>Two kinds of alert are on the wire here. A client that does not trust the relay's CA <em>sends</em> unknown_ca;
 * a TLS 1.3 client sends it in the clear while the relay already expects encrypted records, so the engines fail with
 * a decryption error (JDK) or BAD_PACKET_LENGTH (BoringSSL) that names no alert: the reason comes from the alert read
 * off the wire, the client's complaint. A client the relay refuses (old protocol, no common cipher) <em>receives</em>
 * protocol_version or handshake_failure from the relay: the reason is the alert the relay sent, whatever its engine
 * calls the problem (BoringSSL says WRONG_CURVE for a client that offers only AES128-SHA).
 */
@Scenario
class RealClientFailureReasonTest {

    static final Duration PATIENCE = Duration.ofSeconds(10);

    @TempDir
    Path dir;

    Onions onions;
    EchoServer echo;
    final List<String> observed = new CopyOnWriteArrayList<>();

    /** One client and the reason its failure must be counted with. */
    record Client(
            String name, String reason, boolean tls13OnlyRelay, BiFunction<Integer, String, List<String>> command) {
        @Override
        public String toString() {
            return name;
        }
    }

    /** The client complains about our CA; we refuse the client's protocol or its ciphers. */
    static final Map<String, String> DIRECTION =
            Map.of("unknown_ca", "received", "protocol_version", "sent", "handshake_failure", "sent");

    static final List<Client> CLIENTS = List.of(
            new Client(
                    "curl (TLS 1.3) without the relay's CA",
                    "unknown_ca",
                    false,
                    (port, ca) -> List.of("curl", "-sS", "--max-time", "5", "https://localhost:" + port + "/")),
            new Client(
                    "curl (TLS 1.2) without the relay's CA",
                    "unknown_ca",
                    false,
                    (port, ca) -> List.of(
                            "curl",
                            "-sS",
                            "--max-time",
                            "5",
                            "--tlsv1.2",
                            "--tls-max",
                            "1.2",
                            "https://localhost:" + port + "/")),
            new Client(
                    "openssl s_client (TLS 1.3) -verify_return_error without the CA",
                    "unknown_ca",
                    false,
                    (port, ca) -> sClient(port, "-verify_return_error")),
            new Client(
                    "openssl s_client (TLS 1.2) -verify_return_error without the CA",
                    "unknown_ca",
                    false,
                    (port, ca) -> sClient(port, "-tls1_2", "-verify_return_error")),
            new Client(
                    "openssl s_client (TLS 1.2) against a TLS 1.3-only layer",
                    "protocol_version",
                    true,
                    (port, ca) -> sClient(port, "-tls1_2", "-CAfile", ca)),
            new Client(
                    "openssl s_client offering only AES128-SHA",
                    "handshake_failure",
                    false,
                    (port, ca) -> sClient(port, "-tls1_2", "-cipher", "AES128-SHA", "-CAfile", ca)),
            new Client(
                    "openssl s_client (TLS 1.1)",
                    "protocol_version",
                    false,
                    (port, ca) -> sClient(port, "-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0", "-CAfile", ca)),
            new Client(
                    "Python ssl (TLS 1.3) without the relay's CA",
                    "unknown_ca",
                    false,
                    (port, ca) -> List.of(
                            "python3",
                            "-c",
                            "import socket, ssl\n"
                                    + "s = socket.create_connection(('127.0.0.1', " + port + "))\n"
                                    + "ssl.create_default_context().wrap_socket(s, server_hostname='localhost')\n")),
            new Client(
                    "Python ssl (TLS 1.2) without the relay's CA",
                    "unknown_ca",
                    false,
                    (port, ca) -> List.of(
                            "python3",
                            "-c",
                            "import socket, ssl\n"
                                    + "c = ssl.create_default_context()\n"
                                    + "c.maximum_version = ssl.TLSVersion.TLSv1_2\n"
                                    + "s = socket.create_connection(('127.0.0.1', " + port + "))\n"
                                    + "c.wrap_socket(s, server_hostname='localhost')\n")));

    static Stream<Arguments> clientsOnBothProviders() {
        List<Arguments> all = new ArrayList<>();
        for (TlsProvider provider : TlsProvider.values()) {
            for (Client client : CLIENTS) {
                all.add(Arguments.of(provider, client));
            }
        }
        return all.stream();
    }

    @AfterEach
    void tearDown() throws Exception {
        if (onions != null) {
            onions.close();
        }
        if (echo != null) {
            echo.close();
        }
    }

    @ParameterizedTest(name = "{0}: {1}")
    @MethodSource("clientsOnBothProviders")
    void failureIsCountedOnceWithTheAlertOnTheWire(TlsProvider provider, Client client) throws Exception {
        onions = new Onions(provider, new RelayObserver() {
            @Override
            public void handshakeFailed(Relay relay, Side side, String layer, String reason, SocketAddress peer) {
                observed.add(relay.spec().name() + " " + side.label() + "/" + layer + " " + reason);
            }
        });
        echo = new EchoServer();
        onions.pki.ca("ca");
        onions.pki.leaf("hop", "ca");
        Path ca = dir.resolve("ca.pem");
        Files.writeString(ca, PemCodec.certificatesToPem(onions.pki.get("ca").chain()));
        LayerSpec layer = Layers.server("L0", "hop");
        if (client.tls13OnlyRelay()) {
            layer = Layers.withProtocols(layer, List.of("TLSv1.3"));
        }
        Relay relay = onions.relay("relay", echo.port(), List.of(layer), List.of());

        String output = run(client.command().apply(Onions.port(relay), ca.toString()));

        await().atMost(PATIENCE).untilAsserted(() -> {
            RelayStats stats = relay.stats();
            assertThat(stats.failuresByReason())
                    .as("failures by reason after %s, which said:\n%s", client, output)
                    .containsExactly(entry(client.reason(), 1L));
            assertThat(stats.failuresByLayer()).containsExactly(entry("ingress/L0", 1L));
            RelayStats.HandshakeFailure last = stats.lastFailure();
            assertThat(last).isNotNull();
            assertThat(last.side()).isEqualTo("ingress");
            assertThat(last.layer()).isEqualTo("L0");
            assertThat(last.reason()).isEqualTo(client.reason());
            assertThat(last.alert()).as("which way the alert went").isEqualTo(DIRECTION.get(client.reason()));
            assertThat(last.peer()).matches("127\\.0\\.0\\.1:\\d+");
            assertThat(observed)
                    .as("what the metrics were told")
                    .containsExactly("relay ingress/L0 " + client.reason());
        });
        assertThat(relay.stats().handshakesSucceeded()).isZero();
        await().atMost(PATIENCE).until(() -> relay.stats().activeTunnels() == 0);
        assertThat(observed).as("counted once").hasSize(1);
    }

    private static List<String> sClient(int port, String... options) {
        List<String> command = new ArrayList<>(
                List.of("openssl", "s_client", "-connect", "127.0.0.1:" + port, "-servername", "localhost", "-brief"));
        command.addAll(List.of(options));
        return command;
    }

    /** Runs a client to its end (it fails its handshake) and returns what it printed. */
    private static String run(List<String> command) throws Exception {
        Process process = new ProcessBuilder(command)
                .redirectErrorStream(true)
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                .start();
        String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!process.waitFor(PATIENCE.toSeconds(), TimeUnit.SECONDS)) {
            process.destroyForcibly();
            throw new AssertionError(command + " did not finish:\n" + output);
        }
        return output;
    }
}
