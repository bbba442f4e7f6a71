package dev.onionrelay.relay;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.entry;
import static org.awaitility.Awaitility.await;

import dev.onionrelay.layer.LayerSpec;
import dev.onionrelay.layer.TlsProvider;
import dev.onionrelay.support.EchoServer;
import dev.onionrelay.support.Layers;
import dev.onionrelay.support.Onions;
import dev.onionrelay.support.Scenario;
import dev.onionrelay.support.Traffic;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Handshake failures close that tunnel, leave the relay serving others, and show per layer in relay status with the
 * reasons of docs/API.md (a failure inside an established layer before it carried data is still that layer's handshake failure).
 *
 * <p>Most scenarios use a depth-2 chain, {@code entry [egress L0, L1] -> exit [ingress L0, L1] -> echo}, broken on
 * the inner layer only: L0 succeeds on both relays, so a failure counted on L0 (or on no layer) would be a wrong
 * attribution. Each failure is checked on the side that detects it and on the side that receives its alert, then a
 * good client is relayed by the same exit.
 *
 * <p>The expected reasons follow one rule: the side that detects a problem names it by the RFC 8446 alert meant for
 * it ({@code unknown_ca}, {@code certificate_required}, ...) whatever alert its TLS engine puts on the wire; the side
 * that receives an alert reports the alert it received, so that side depends on the peer's engine (see
 * {@link #alertSentFor}).
 */
@Scenario
public class HandshakeFailureTest {

    static final Duration PATIENCE = Duration.ofSeconds(5);
    static final Duration SHORT_HANDSHAKE = Duration.ofMillis(300);
    static final long GOOD_ECHO_BYTES = 256 * 1024;
    static final String LOOPBACK_PEER = "127\\.0\\.0\\.1:\\d+";
    static final byte[] HTTP_REQUEST = "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n".getBytes(StandardCharsets.US_ASCII);

    /** The engine the layers here run on: OpenSSL by default ({@code auto}), or what -Donion.tls.provider forces. */
    static final TlsProvider PROVIDER =
            dev.onionrelay.layer.ProviderChoice.fromSystemProperty().forLayer(0, Integer.MAX_VALUE, true);

    Onions onions;
    EchoServer echo;

    /**
     * The first handshakes in a JVM load and compile a lot of code; the 300 ms timeouts below must only ever fire on
     * a peer that really stalls.
     */
    @BeforeAll
    static void warmUpTls() throws Exception {
        try (Onions warm = new Onions();
                EchoServer target = new EchoServer()) {
            warm.pki.ca("ca");
            warm.pki.leaf("hop", "ca");
            warm.pki.leaf("client", "ca");
            Relay exit = warm.relay(
                    "exit",
                    target.port(),
                    List.of(Layers.server("L0", "hop"), Layers.serverRequiringClientCertificate("L1", "hop", "ca")),
                    List.of());
            Relay entry = warm.relay(
                    "entry",
                    Onions.port(exit),
                    List.of(),
                    List.of(
                            Layers.client("L0", "ca", "localhost"),
                            Layers.clientWithCertificate("L1", "ca", "localhost", "client")));
            Traffic.Echo result = Traffic.echoThenClose(Onions.port(entry), GOOD_ECHO_BYTES);
            assertThat(result.intact()).as("warm-up echo: %s", result).isTrue();
        }
    }

    @BeforeEach
    void setUp() throws Exception {
        onions = new Onions();
        echo = new EchoServer();
        onions.pki.ca("ca");
        onions.pki.ca("other");
        onions.pki.leaf("hop0", "ca");
        onions.pki.leaf("hop1", "ca");
        onions.pki.leaf("client", "ca");
    }

    @AfterEach
    void tearDown() throws Exception {
        onions.close();
        echo.close();
    }

    // --- unknown CA -------------------------------------------------------------------------------------------------

    @Test
    void entryThatDoesNotTrustTheHopsCaFailsWithUnknownCaOnThatLayer() throws Exception {
        Relay exit = exit(Layers.server("L0", "hop0"), Layers.server("L1", "hop1"));
        Relay good = entryTo(exit, Layers.client("L0", "ca", "localhost"), Layers.client("L1", "ca", "localhost"));
        Relay bad = entryTo(exit, Layers.client("L0", "ca", "localhost"), Layers.client("L1", "other", "localhost"));

        assertThat(clientIsDisconnected(Onions.port(bad), HTTP_REQUEST))
                .as("bytes the client got back")
                .isEmpty();

        // The entry detects it: the hop's certificate does not chain to the CA this layer trusts.
        assertFailures(bad, 1, "egress", "L1", "unknown_ca", peer(Onions.port(exit)));
        // The hop receives the alert the entry's engine sends for it, on its own inner layer.
        assertFailures(exit, 1, "ingress", "L1", alertSentFor("unknown_ca"), LOOPBACK_PEER);
        assertThat(bad.stats().handshakesSucceeded())
                .as("entry handshakes that succeeded (L0)")
                .isEqualTo(1);
        assertThat(exit.stats().handshakesSucceeded())
                .as("hop handshakes that succeeded (L0)")
                .isEqualTo(1);

        assertRelaysOtherClients(exit, good);
        assertNoTunnelsLeft(exit, good, bad);
    }

    @Test
    void hopThatDoesNotTrustTheClientCertificatesCaFailsWithUnknownCaOnThatLayer() throws Exception {
        // The client's CA has the name of the CA the hop trusts but another key (the CA was regenerated, or it is an
        // impostor). With a CA of another name a JDK client would not send its certificate at all: it picks one by
        // the issuer names in the hop's CertificateRequest, and an empty certificate is certificate_required.
        onions.pki.ca("regenerated", "ca CA");
        onions.pki.leaf("regenerated-client", "regenerated");
        Relay exit = exit(Layers.server("L0", "hop0"), Layers.serverRequiringClientCertificate("L1", "hop1", "ca"));
        Relay good = entryTo(
                exit,
                Layers.client("L0", "ca", "localhost"),
                Layers.clientWithCertificate("L1", "ca", "localhost", "client"));
        Relay bad = entryTo(
                exit,
                Layers.client("L0", "ca", "localhost"),
                Layers.clientWithCertificate("L1", "ca", "localhost", "regenerated-client"));

        assertThat(clientIsDisconnected(Onions.port(bad), HTTP_REQUEST))
                .as("bytes the client got back")
                .isEmpty();

        // The hop detects it. The entry's side of this failure arrives after its TLS 1.3 handshake has completed:
        // see entryWhoseClientCertificateIsRejectedCountsTheFailureOnThatLayer.
        assertFailures(exit, 1, "ingress", "L1", "unknown_ca", LOOPBACK_PEER);
        assertThat(exit.stats().handshakesSucceeded())
                .as("hop handshakes that succeeded (L0)")
                .isEqualTo(1);

        assertRelaysOtherClients(exit, good);
        assertNoTunnelsLeft(exit, good, bad);
    }

    // --- certificate not valid yet (clock skew) ---------------------------------------------------------------------

    @Test
    void hopRejectsAClientCertificateThatIsNotValidYetWithCertificateExpiredOnThatLayer() throws Exception {
        // Issued by the trusted CA, by a host whose clock runs two days ahead.
        onions.pki.leafIssuedAt("early-client", "ca", Instant.now().plus(Duration.ofDays(2)));
        Relay exit = exit(Layers.server("L0", "hop0"), Layers.serverRequiringClientCertificate("L1", "hop1", "ca"));
        Relay good = entryTo(
                exit,
                Layers.client("L0", "ca", "localhost"),
                Layers.clientWithCertificate("L1", "ca", "localhost", "client"));
        Relay bad = entryTo(
                exit,
                Layers.client("L0", "ca", "localhost"),
                Layers.clientWithCertificate("L1", "ca", "localhost", "early-client"));

        assertThat(clientIsDisconnected(Onions.port(bad), HTTP_REQUEST))
                .as("bytes the client got back")
                .isEmpty();

        // RFC 8446 names one alert for "expired or is not currently valid".
        assertFailures(exit, 1, "ingress", "L1", "certificate_expired", LOOPBACK_PEER);

        assertRelaysOtherClients(exit, good);
        assertNoTunnelsLeft(exit, good, bad);
    }

    // --- wrong hostname ---------------------------------------------------------------------------------------------

    @Test
    void entryExpectingAnotherHostnameFailsWithCertificateUnknownOnThatLayer() throws Exception {
        Relay exit = exit(Layers.server("L0", "hop0"), Layers.server("L1", "hop1"));
        Relay good = entryTo(exit, Layers.client("L0", "ca", "localhost"), Layers.client("L1", "ca", "localhost"));
        // The hop's certificate names localhost and 127.0.0.1 only.
        Relay bad =
                entryTo(exit, Layers.client("L0", "ca", "localhost"), Layers.client("L1", "ca", "elsewhere.example"));

        assertThat(clientIsDisconnected(Onions.port(bad), HTTP_REQUEST))
                .as("bytes the client got back")
                .isEmpty();

        // A certificate that chains to a trusted CA but names another host is not an unknown CA, nor a malformed
        // (bad) certificate: RFC 8446 leaves "some other issue ... rendering it unacceptable" to certificate_unknown,
        // which is also the alert the JDK engine sends for a name mismatch.
        assertFailures(bad, 1, "egress", "L1", "certificate_unknown", peer(Onions.port(exit)));
        assertFailures(exit, 1, "ingress", "L1", alertSentFor("certificate_unknown"), LOOPBACK_PEER);

        assertRelaysOtherClients(exit, good);
        assertNoTunnelsLeft(exit, good, bad);
    }

    // --- client certificate required and missing --------------------------------------------------------------------

    @Test
    void hopRequiringAClientCertificateFailsWithCertificateRequiredWhenNoneIsSent() throws Exception {
        Relay exit = exit(Layers.server("L0", "hop0"), Layers.serverRequiringClientCertificate("L1", "hop1", "ca"));
        Relay good = entryTo(
                exit,
                Layers.client("L0", "ca", "localhost"),
                Layers.clientWithCertificate("L1", "ca", "localhost", "client"));
        Relay bad = entryTo(exit, Layers.client("L0", "ca", "localhost"), Layers.client("L1", "ca", "localhost"));

        assertThat(clientIsDisconnected(Onions.port(bad), HTTP_REQUEST))
                .as("bytes the client got back")
                .isEmpty();

        // TLS 1.3 has an alert for exactly this (RFC 8446 section 4.4.2.4), whatever the engine sends.
        assertFailures(exit, 1, "ingress", "L1", "certificate_required", LOOPBACK_PEER);
        assertThat(exit.stats().handshakesSucceeded())
                .as("hop handshakes that succeeded (L0)")
                .isEqualTo(1);

        assertRelaysOtherClients(exit, good);
        assertNoTunnelsLeft(exit, good, bad);
    }

    /**
     * In TLS 1.3 a client's handshake is complete once it has sent its Finished; a server that rejects the client's
     * certificate says so with an alert that arrives after that. The entry then closes the tunnel (the alert is an
     * exception in its pipeline) but counts nothing: no failure, no reason, the layer was ESTABLISHED. The failure classification asks
     * for the failure with side, layer and reason on both relays.
     */
    @Test
    void entryWhoseClientCertificateIsRejectedCountsTheFailureOnThatLayer() throws Exception {
        Relay exit = exit(Layers.server("L0", "hop0"), Layers.serverRequiringClientCertificate("L1", "hop1", "ca"));
        Relay bad = entryTo(exit, Layers.client("L0", "ca", "localhost"), Layers.client("L1", "ca", "localhost"));

        assertThat(clientIsDisconnected(Onions.port(bad), HTTP_REQUEST))
                .as("bytes the client got back")
                .isEmpty();

        assertFailures(exit, 1, "ingress", "L1", "certificate_required", LOOPBACK_PEER);
        assertFailures(bad, 1, "egress", "L1", alertSentFor("certificate_required"), peer(Onions.port(exit)));
        assertNoTunnelsLeft(exit, bad);
    }

    // --- not TLS at all ---------------------------------------------------------------------------------------------

    @Test
    void plaintextClientOnATlsLayerFailsWithNotTlsAndIsDisconnected() throws Exception {
        Relay exit = exit(Layers.server("L0", "hop0"));
        Relay good = entryTo(exit, Layers.client("L0", "ca", "localhost"));

        byte[] answer = clientIsDisconnected(Onions.port(exit), HTTP_REQUEST);

        // Netty rejects the bytes before any TLS engine sees them: there is no session to carry an alert, only EOF.
        assertThat(answer).as("what the plaintext client got back").isEmpty();
        assertFailures(exit, 1, "ingress", "L0", "not_tls", LOOPBACK_PEER);
        assertThat(echo.connections())
                .as("connections that reached the target (the target is connected only after every ingress handshake)")
                .isZero();

        assertRelaysOtherClients(exit, good);
        assertNoTunnelsLeft(exit, good);
    }

    @Test
    void plaintextInsideTheOuterLayerFailsWithNotTlsOnTheInnerLayer() throws Exception {
        Relay exit = exit(Layers.server("L0", "hop0"), Layers.server("L1", "hop1"));
        Relay good = entryTo(exit, Layers.client("L0", "ca", "localhost"), Layers.client("L1", "ca", "localhost"));
        // This entry wraps L0 only: the hop's L1 receives the client's plaintext.
        Relay shallow = entryTo(exit, Layers.client("L0", "ca", "localhost"));

        assertThat(clientIsDisconnected(Onions.port(shallow), HTTP_REQUEST))
                .as("bytes the client got back")
                .isEmpty();

        assertFailures(exit, 1, "ingress", "L1", "not_tls", LOOPBACK_PEER);
        assertThat(exit.stats().handshakesSucceeded())
                .as("hop handshakes that succeeded (L0)")
                .isEqualTo(1);
        assertThat(shallow.stats().handshakeFailures())
                .as("the shallow entry's own handshake worked")
                .isZero();
        assertThat(echo.connections())
                .as("connections that reached the target (the target is connected only after every ingress handshake)")
                .isZero();

        assertRelaysOtherClients(exit, good);
        assertNoTunnelsLeft(exit, good, shallow);
    }

    @Test
    void entryWhoseNextHopSpeaksPlaintextFailsWithNotTlsOnThatLayer() throws Exception {
        try (PlaintextServer sshLike = new PlaintextServer("SSH-2.0-OpenSSH_9.6\r\n")) {
            Relay entry =
                    onions.relay("entry", sshLike.port(), List.of(), List.of(Layers.client("L0", "ca", "localhost")));

            for (int attempt = 1; attempt <= 2; attempt++) {
                assertThat(clientIsDisconnected(Onions.port(entry), HTTP_REQUEST))
                        .as("bytes back, attempt %d", attempt)
                        .isEmpty();
                // Each tunnel fails on its own; the relay accepts the next one and counts it again.
                assertFailures(entry, attempt, "egress", "L0", "not_tls", peer(sshLike.port()));
            }
            assertThat(entry.state()).isEqualTo(RelayState.LISTENING);
            assertNoTunnelsLeft(entry);
        }
    }

    // --- timeout ----------------------------------------------------------------------------------------------------

    @Test
    void silentClientTimesOutAndIsDisconnectedByTheHop() throws Exception {
        Relay exit = exit(Layers.withTimeout(Layers.server("L0", "hop0"), SHORT_HANDSHAKE));
        Relay good = entryTo(exit, Layers.client("L0", "ca", "localhost"));

        try (Socket silent = new Socket(InetAddress.getLoopbackAddress(), Onions.port(exit))) {
            // The start of a TLS record, then nothing: past the first-byte timeout, so the handshake timeout ends it.
            silent.getOutputStream().write(new byte[] {0x16, 0x03, 0x01, 0x02, 0x00});
            long started = System.nanoTime();
            byte[] answer = readUntilClosed(silent);
            Duration waited = Duration.ofNanos(System.nanoTime() - started);

            assertThat(answer).as("what the silent client got back").isEmpty();
            assertThat(waited)
                    .as("time until the hop closed the connection")
                    .isBetween(SHORT_HANDSHAKE.minusMillis(50), PATIENCE);
            assertFailures(exit, 1, "ingress", "L0", "timeout", peer(silent.getLocalPort()));
        }

        assertRelaysOtherClients(exit, good);
        assertNoTunnelsLeft(exit, good);
    }

    @Test
    void clientThatStallsAfterTheOuterLayerTimesOutOnTheInnerLayer() throws Exception {
        Relay exit =
                exit(Layers.server("L0", "hop0"), Layers.withTimeout(Layers.server("L1", "hop1"), SHORT_HANDSHAKE));
        Relay good = entryTo(exit, Layers.client("L0", "ca", "localhost"), Layers.client("L1", "ca", "localhost"));
        // Wraps L0 only and sends nothing inside it: the hop's L1 waits for a ClientHello that never comes.
        Relay shallow = entryTo(exit, Layers.client("L0", "ca", "localhost"));

        try (Socket silent = new Socket(InetAddress.getLoopbackAddress(), Onions.port(shallow))) {
            assertThat(readUntilClosed(silent))
                    .as("what the silent client got back")
                    .isEmpty();
        }

        assertFailures(exit, 1, "ingress", "L1", "timeout", LOOPBACK_PEER);
        assertThat(exit.stats().handshakesSucceeded())
                .as("hop handshakes that succeeded (L0)")
                .isEqualTo(1);
        assertThat(shallow.stats().handshakeFailures())
                .as("the shallow entry's own handshake worked")
                .isZero();

        assertRelaysOtherClients(exit, good);
        assertNoTunnelsLeft(exit, good, shallow);
    }

    @Test
    void entryWhoseNextHopNeverAnswersTimesOutOnThatLayer() throws Exception {
        try (PlaintextServer blackHole = new PlaintextServer("")) {
            Relay entry = onions.relay(
                    "entry",
                    blackHole.port(),
                    List.of(),
                    List.of(Layers.withTimeout(Layers.client("L0", "ca", "localhost"), SHORT_HANDSHAKE)));

            for (int attempt = 1; attempt <= 2; attempt++) {
                assertThat(clientIsDisconnected(Onions.port(entry), HTTP_REQUEST))
                        .as("bytes back, attempt %d", attempt)
                        .isEmpty();
                assertFailures(entry, attempt, "egress", "L0", "timeout", peer(blackHole.port()));
            }
            assertThat(blackHole.firstBytes())
                    .as("what the black hole received first")
                    .startsWith(0x16, 0x03); // a ClientHello record: the handshake did start
            assertThat(entry.state()).isEqualTo(RelayState.LISTENING);
            assertNoTunnelsLeft(entry);
        }
    }

    // --- helpers ----------------------------------------------------------------------------------------------------

    /**
     * The alert a {@link #PROVIDER} engine puts on the wire when it detects {@code problem} (named by its RFC 8446
     * alert): what the other side of a failure reports. Observed on JDK 17 and netty-tcnative BoringSSL:
     *
     * <ul>
     *   <li>JDK: certificate_unknown for any certificate its trust manager rejects unless the path validator gives a
     *       reason it maps (expired, revoked, ...), and "no path to a trust anchor" is not one of them
     *       (sun.security.ssl.CertificateMessage); bad_certificate, not certificate_required, for an empty client
     *       certificate chain on TLS 1.3.
     *   <li>OpenSSL: the alert that names the problem, since the service hands BoringSSL the X.509 error code of the
     *       reason it finds (OpenSslTrustAlerts; Netty alone would hand it X509_V_ERR_UNSPECIFIED, and the peer would
     *       get internal_error); certificate_required for an empty client certificate chain.
     * </ul>
     */
    public static String alertSentFor(String problem) {
        return switch (PROVIDER) {
            case JDK ->
                switch (problem) {
                    case "unknown_ca", "certificate_unknown" -> "certificate_unknown";
                    case "certificate_required" -> "bad_certificate";
                    default -> problem;
                };
            case OPENSSL -> problem;
        };
    }

    /** The pattern of a loopback peer address on {@code port}. */
    private static String peer(int port) {
        return "127\\.0\\.0\\.1:" + port;
    }

    private Relay exit(LayerSpec... ingress) throws Exception {
        return onions.relay("exit", echo.port(), List.of(ingress), List.of());
    }

    private Relay entryTo(Relay next, LayerSpec... egress) throws Exception {
        return onions.relay("entry", Onions.port(next), List.of(), List.of(egress));
    }

    private static void assertFailures(
            Relay relay, int count, String side, String layer, String reason, String peerPattern) {
        await().atMost(PATIENCE).untilAsserted(() -> {
            RelayStats stats = relay.stats();
            assertThat(stats.handshakeFailures()).as("%s failures", relay).isEqualTo(count);
            assertThat(stats.failuresByLayer())
                    .as("%s failures by layer", relay)
                    .containsExactly(entry(side + "/" + layer, (long) count));
            assertThat(stats.failuresByReason())
                    .as("%s failures by reason", relay)
                    .containsExactly(entry(reason, (long) count));
            RelayStats.HandshakeFailure last = stats.lastFailure();
            assertThat(last).as("%s last failure", relay).isNotNull();
            assertThat(last.side()).isEqualTo(side);
            assertThat(last.layer()).isEqualTo(layer);
            assertThat(last.reason()).isEqualTo(reason);
            assertThat(last.peer()).matches(peerPattern);
        });
    }

    /**
     * The failures above closed their tunnels only: the same exit still relays a good client end to end. The client
     * reads its whole echo before it closes: half-close is not what these tests are about.
     */
    private static void assertRelaysOtherClients(Relay exit, Relay goodEntry) throws Exception {
        long failuresBefore = exit.stats().handshakeFailures();
        Traffic.Echo result = Traffic.echoThenClose(Onions.port(goodEntry), GOOD_ECHO_BYTES);
        assertThat(result.intact())
                .as("echo through the same relay after the failure: %s", result)
                .isTrue();
        assertThat(goodEntry.stats().handshakeFailures()).isZero();
        assertThat(exit.stats().handshakeFailures())
                .as("failures after the good client")
                .isEqualTo(failuresBefore);
    }

    private static void assertNoTunnelsLeft(Relay... relays) {
        for (Relay relay : relays) {
            await().atMost(PATIENCE)
                    .untilAsserted(() -> assertThat(relay.stats().activeTunnels())
                            .as("%s active tunnels", relay)
                            .isZero());
        }
    }

    /** Connects, sends {@code bytes} and returns what came back before the relay closed the connection. */
    private static byte[] clientIsDisconnected(int port, byte[] bytes) throws IOException {
        try (Socket socket = new Socket(InetAddress.getLoopbackAddress(), port)) {
            try {
                socket.getOutputStream().write(bytes);
            } catch (SocketException alreadyClosed) {
                // The relay may close before our bytes are written; what counts is that it closes.
            }
            return readUntilClosed(socket);
        }
    }

    /**
     * Reads until the peer closes (EOF or reset); fails if the peer keeps the connection open longer than
     * {@link #PATIENCE}.
     */
    private static byte[] readUntilClosed(Socket socket) throws IOException {
        socket.setSoTimeout((int) PATIENCE.toMillis());
        ByteArrayOutputStream received = new ByteArrayOutputStream();
        InputStream in = socket.getInputStream();
        byte[] buffer = new byte[4096];
        try {
            int n;
            while ((n = in.read(buffer)) >= 0) {
                received.write(buffer, 0, n);
            }
        } catch (SocketTimeoutException stillOpen) {
            throw new AssertionError("the relay kept the connection open for " + PATIENCE, stillOpen);
        } catch (SocketException reset) {
            // A reset is a close too.
        }
        return received.toByteArray();
    }

    /** A TCP server that greets every connection with a fixed plaintext line (or nothing) and then only listens. */
    static final class PlaintextServer implements AutoCloseable {

        private final ServerSocket server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        private final List<Socket> sockets = new CopyOnWriteArrayList<>();
        private final ByteArrayOutputStream firstBytes = new ByteArrayOutputStream();

        PlaintextServer(String greeting) throws IOException {
            Thread acceptor = new Thread(
                    () -> {
                        while (!server.isClosed()) {
                            try {
                                Socket socket = server.accept();
                                sockets.add(socket);
                                socket.getOutputStream().write(greeting.getBytes(StandardCharsets.US_ASCII));
                                Thread reader = new Thread(() -> drain(socket), "plaintext-server-read");
                                reader.setDaemon(true);
                                reader.start();
                            } catch (IOException closed) {
                                return;
                            }
                        }
                    },
                    "plaintext-server-accept");
            acceptor.setDaemon(true);
            acceptor.start();
        }

        int port() {
            return server.getLocalPort();
        }

        /** The first bytes received on any connection. */
        byte[] firstBytes() {
            synchronized (firstBytes) {
                return firstBytes.toByteArray();
            }
        }

        private void drain(Socket socket) {
            try {
                byte[] buffer = new byte[4096];
                int n;
                while ((n = socket.getInputStream().read(buffer)) >= 0) {
                    synchronized (firstBytes) {
                        if (firstBytes.size() == 0) {
                            firstBytes.write(buffer, 0, n);
                        }
                    }
                }
            } catch (IOException gone) {
                // The relay closed the connection.
            }
        }

        @Override
        public void close() throws IOException {
            server.close();
            for (Socket socket : sockets) {
                socket.close();
            }
        }
    }
}
