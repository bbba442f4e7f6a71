package dev.onionrelay.layer.allow;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.onionrelay.credential.Credential;
import dev.onionrelay.credential.PemCodec;
import dev.onionrelay.layer.LayerSpec;
import dev.onionrelay.layer.TlsProvider;
import dev.onionrelay.relay.Relay;
import dev.onionrelay.support.EchoServer;
import dev.onionrelay.support.Layers;
import dev.onionrelay.support.Onions;
import dev.onionrelay.support.OpenSsl;
import dev.onionrelay.support.Scenario;
import java.io.InputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Period;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Acceptance 2 of issue 26: each list kind of {@code allow} with an entry that names the peer and one that does not,
 * on a server layer (judging the client certificate) and on a client layer (judging the server certificate, besides
 * the host name), on the JDK and the OpenSSL engine. Two relays per case: an entry whose egress layer meets an exit's
 * ingress layer, the peer certificate ({@code CN=peer}, OU {@code web}, DNS {@code peer.svc.example}, IP 127.0.0.1, URI {@code
 * spiffe://test.example/ns/web/sa/peer}) presented by the other side. A refused peer is counted as {@code
 * access_denied} by the layer that refused it; the other side receives {@code access_denied} from either engine (from
 * BoringSSL through OpenSslFatalAlerts: JNA on the suite's Java 17, the Foreign Function API where CI runs this class
 * on the image's Java 25). The peer's certificate is issued by {@code openssl}, since the development CA issues no
 * organizational unit.
 */
@Scenario
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class AllowListKindsTest {

    static final Map<TlsProvider, String> ALERT_RECEIVED =
            Map.of(TlsProvider.JDK, "access_denied", TlsProvider.OPENSSL, "access_denied");

    @TempDir
    static Path dir;

    final Map<TlsProvider, Onions> engines = new java.util.EnumMap<>(TlsProvider.class);
    EchoServer echo;
    String peerPin;
    String strangerPin;

    @BeforeAll
    void setUp() throws Exception {
        echo = new EchoServer();
        for (TlsProvider provider : TlsProvider.values()) {
            Onions onions = new Onions(provider, new dev.onionrelay.relay.RelayObserver() {});
            Credential ca = onions.pki.ca("ca");
            // The peer has an organizational unit, which the development CA does not issue: openssl does.
            OpenSsl.PemPair peer = OpenSsl.issued(
                    Files.createDirectories(dir.resolve(provider.name())),
                    "peer",
                    "/OU=web/CN=peer",
                    new OpenSsl.PemPair(
                            PemCodec.certificatesToPem(ca.chain()), PemCodec.privateKeyToPem(ca.privateKey())),
                    List.of(
                            "DNS:localhost",
                            "DNS:peer.svc.example",
                            "IP:127.0.0.1",
                            "URI:spiffe://test.example/ns/web/sa/peer"),
                    30);
            List<X509Certificate> chain = new ArrayList<>(PemCodec.parseCertificates(peer.certificate()));
            chain.addAll(ca.chain());
            onions.pki.put(
                    Credential.of("peer", chain, PemCodec.parsePrivateKey(peer.privateKey()), java.time.Instant.now()));
            onions.pki.leaf("stranger", "ca");
            onions.pki.leaf("expiring", "ca", List.of("localhost"), List.of(), List.of(), Period.ofDays(5));
            engines.put(provider, onions);
        }
    }

    @AfterAll
    void tearDown() throws Exception {
        for (Onions onions : engines.values()) {
            onions.close();
        }
        echo.close();
    }

    static PeerAllow allow(String kind, String entry) {
        List<String> one = List.of(entry);
        return switch (kind) {
            case "commonNames" -> new PeerAllow(one, null, null, null, null, null, null);
            case "organizationalUnits" -> new PeerAllow(null, one, null, null, null, null, null);
            case "dnsNames" -> new PeerAllow(null, null, one, null, null, null, null);
            case "uris" -> new PeerAllow(null, null, null, one, null, null, null);
            case "ipAddresses" -> new PeerAllow(null, null, null, null, one, null, null);
            case "sha256" -> new PeerAllow(null, null, null, null, null, one, null);
            default -> throw new IllegalArgumentException(kind);
        };
    }

    /** kind, entry (PEER and STRANGER stand for the pins), allowed. */
    static final List<List<Object>> ENTRIES = List.of(
            List.of("commonNames", "peer", true),
            List.of("commonNames", "stranger", false),
            List.of("organizationalUnits", "web", true),
            List.of("organizationalUnits", "batch", false),
            List.of("dnsNames", "*.svc.example", true),
            List.of("dnsNames", "*.other.example", false),
            List.of("uris", "spiffe://test.example/ns/web/*", true),
            List.of("uris", "spiffe://test.example/ns/batch/*", false),
            List.of("ipAddresses", "127.0.0.0/8", true),
            List.of("ipAddresses", "10.0.0.0/8", false),
            List.of("sha256", "PEER", true),
            List.of("sha256", "STRANGER", false));

    Stream<Arguments> cases() {
        List<Arguments> all = new ArrayList<>();
        for (TlsProvider provider : TlsProvider.values()) {
            for (String role : List.of("server", "client")) {
                for (List<Object> entry : ENTRIES) {
                    all.add(Arguments.of(provider, role, entry.get(0), entry.get(1), entry.get(2)));
                }
            }
        }
        return all.stream();
    }

    @ParameterizedTest(name = "{0} {1} layer, {2} {3}: allowed={4}")
    @MethodSource("cases")
    void each_list_kind_allows_its_peer_and_refuses_the_rest(
            TlsProvider provider, String role, String kind, String entry, boolean allowed) throws Exception {
        Onions onions = engines.get(provider);
        String value =
                switch (entry) {
                    case "PEER" -> PeerIdentity.sha256(onions.pki.get("peer").leaf());
                    case "STRANGER" ->
                        PeerIdentity.sha256(onions.pki.get("stranger").leaf());
                    default -> entry;
                };
        PeerAllow allow = allow(kind, value);
        boolean onServer = role.equals("server");
        LayerSpec exitLayer = onServer
                ? Layers.withAllow(Layers.serverRequiringClientCertificate("L", "peer", "ca"), allow)
                : Layers.server("L", "peer");
        LayerSpec entryLayer = onServer
                ? Layers.clientWithCertificate("L", "ca", "localhost", "peer")
                : Layers.withAllow(Layers.client("L", "ca", "localhost"), allow);
        Relay exit = onions.relay("exit", echo.port(), List.of(exitLayer), List.of());
        Relay entryRelay = onions.relay("entry", Onions.port(exit), List.of(), List.of(entryLayer));
        try {
            String answer = exchange(Onions.port(entryRelay), "ping");

            Relay judge = onServer ? exit : entryRelay;
            Relay judged = onServer ? entryRelay : exit;
            if (allowed) {
                assertThat(answer).isEqualTo("ping");
                assertThat(judge.stats().handshakeFailures()).isZero();
            } else {
                assertThat(answer).isNotEqualTo("ping");
                await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> {
                    assertThat(judge.stats().failuresByReason()).containsOnlyKeys("access_denied");
                    assertThat(judged.stats().failuresByReason())
                            .as("the alert the other side received")
                            .containsOnlyKeys(ALERT_RECEIVED.get(provider));
                });
            }
        } finally {
            entryRelay.stop();
            exit.stop();
        }
    }

    /**
     * Acceptance 3: a CEL expression over the remaining validity of the client certificate allows one that is valid for
     * another month and refuses one that expires within its ten-day window.
     */
    @ParameterizedTest(name = "{0}")
    @org.junit.jupiter.params.provider.CsvSource({"peer, true", "expiring, false"})
    void an_expression_over_remaining_validity_refuses_a_certificate_about_to_expire(String client, boolean allowed)
            throws Exception {
        Onions onions = engines.get(TlsProvider.JDK);
        PeerAllow allow = new PeerAllow(null, null, null, null, null, null, "peer.notAfter - now > duration('240h')");
        Relay exit = onions.relay(
                "exit",
                echo.port(),
                List.of(Layers.withAllow(Layers.serverRequiringClientCertificate("L", "peer", "ca"), allow)),
                List.of());
        Relay entryRelay = onions.relay(
                "entry",
                Onions.port(exit),
                List.of(),
                List.of(Layers.clientWithCertificate("L", "ca", "localhost", client)));
        try {
            String answer = exchange(Onions.port(entryRelay), "ping");

            if (allowed) {
                assertThat(answer).isEqualTo("ping");
                assertPeerSansShown(exit, entryRelay);
            } else {
                assertThat(answer).isEmpty();
                await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> {
                    assertThat(exit.stats().failuresByReason()).containsOnlyKeys("access_denied");
                    assertThat(entryRelay.stats().failuresByReason()).containsOnlyKeys("access_denied");
                });
            }
        } finally {
            entryRelay.stop();
            exit.stop();
        }
    }

    /** While a tunnel is open, each side's layer status names the other's certificate: subject and SANs. */
    private static void assertPeerSansShown(Relay exit, Relay entryRelay) throws Exception {
        try (Socket socket = new Socket("127.0.0.1", Onions.port(entryRelay))) {
            socket.getOutputStream().write('x');
            socket.getInputStream().read();
            dev.onionrelay.layer.LayerStatus server =
                    exit.tunnels().get(0).status().ingress().layers().get(0);
            assertThat(server.peer()).isEqualTo("CN=peer,OU=web");
            assertThat(server.peerSans())
                    .isEqualTo(new dev.onionrelay.layer.PeerSans(
                            List.of("localhost", "peer.svc.example"),
                            List.of("spiffe://test.example/ns/web/sa/peer"),
                            List.of("127.0.0.1")));
        }
    }

    /** Sends {@code text} through the entry and returns what comes back before the connection ends (or 2 s pass). */
    private static String exchange(int port, String text) throws Exception {
        try (Socket socket = new Socket("127.0.0.1", port)) {
            socket.setSoTimeout(5_000);
            socket.getOutputStream().write(text.getBytes(StandardCharsets.US_ASCII));
            socket.getOutputStream().flush();
            InputStream in = socket.getInputStream();
            byte[] buffer = new byte[text.length()];
            int read = 0;
            try {
                while (read < buffer.length) {
                    int n = in.read(buffer, read, buffer.length - read);
                    if (n < 0) {
                        break;
                    }
                    read += n;
                }
            } catch (java.io.IOException endedOrSilent) {
                // Reset or no answer: refused.
            }
            return new String(buffer, 0, read, StandardCharsets.US_ASCII);
        }
    }
}
