package dev.onionrelay.layer.allow;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.entry;
import static org.awaitility.Awaitility.await;

import dev.onionrelay.credential.Credential;
import dev.onionrelay.credential.PemCodec;
import dev.onionrelay.layer.Side;
import dev.onionrelay.layer.TlsProvider;
import dev.onionrelay.relay.Relay;
import dev.onionrelay.relay.RelayObserver;
import dev.onionrelay.support.EchoServer;
import dev.onionrelay.support.Layers;
import dev.onionrelay.support.Onions;
import dev.onionrelay.support.PythonPeer;
import dev.onionrelay.support.Scenario;
import java.net.SocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Period;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Acceptance 1 of issue 26: a depth-2 exit whose inner layer allows one SPIFFE ID, reached by Python's {@code ssl}
 * (nested_tls.py). The allowed workload carries 16 MiB through, checked by SHA-256; a certificate from the same CA for
 * another SPIFFE ID, one with a DNS SAN only, and no certificate at all are refused on the inner layer with {@code
 * access_denied} on the wire and in the failure counts, while the outer layer completes its handshake each time.
 */
@Scenario
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class SpiffeAllowTest {

    static final String FRONTEND = "spiffe://test.example/ns/web/sa/frontend";
    static final long SIXTEEN_MIB = 16L << 20;

    @TempDir
    static Path dir;

    Onions onions;
    EchoServer echo;
    Relay exit;
    final List<String> observed = new CopyOnWriteArrayList<>();

    @BeforeAll
    void setUp() throws Exception {
        // The JDK engine: with onion.tls.provider=auto a layer with allow runs there on Java 17 to 21, the test's
        // runtime; the OpenSSL engine's answer on Java 25 is covered by OpenSslFatalAlertsTest.
        onions = new Onions(TlsProvider.JDK, new RelayObserver() {
            @Override
            public void handshakeFailed(Relay relay, Side side, String layer, String reason, SocketAddress peer) {
                observed.add(side.label() + "/" + layer + " " + reason);
            }
        });
        echo = new EchoServer();
        onions.pki.ca("ca");
        onions.pki.ca("workloads");
        onions.pki.leaf("hop0", "ca");
        onions.pki.leaf("hop1", "ca");
        Period month = Period.ofDays(30);
        onions.pki.leaf("frontend", "workloads", List.of(), List.of(), List.of(FRONTEND), month);
        onions.pki.leaf(
                "other", "workloads", List.of(), List.of(), List.of("spiffe://test.example/ns/web/sa/other"), month);
        onions.pki.leaf("dns-only", "workloads", List.of("frontend.test.example"), List.of(), List.of(), month);
        for (String name : List.of("ca", "frontend", "other", "dns-only")) {
            Credential credential = onions.pki.get(name);
            Files.writeString(dir.resolve(name + ".pem"), PemCodec.certificatesToPem(credential.chain()));
            if (credential.privateKey() != null) {
                Files.writeString(dir.resolve(name + ".key"), PemCodec.privateKeyToPem(credential.privateKey()));
            }
        }
        exit = onions.relay(
                "exit",
                echo.port(),
                List.of(
                        Layers.server("outer", "hop0"),
                        Layers.withAllow(
                                Layers.serverRequiringClientCertificate("inner", "hop1", "workloads"),
                                new PeerAllow(null, null, null, List.of(FRONTEND), null, null, null))),
                List.of());
    }

    @AfterAll
    void tearDown() throws Exception {
        onions.close();
        echo.close();
    }

    private PythonPeer.Result client(String certificate, String... transfer) throws Exception {
        String outer = "ca=" + dir.resolve("ca.pem") + ",server_name=localhost";
        String inner = certificate == null
                ? outer
                : outer + ",cert=" + dir.resolve(certificate + ".pem") + ",key=" + dir.resolve(certificate + ".key");
        List<String> args = new ArrayList<>(
                List.of("client", "--connect", "127.0.0.1:" + Onions.port(exit), "--layer", outer, "--layer", inner));
        args.addAll(List.of(transfer));
        return PythonPeer.run(Duration.ofSeconds(60), "nested_tls.py", args.toArray(String[]::new));
    }

    @Test
    void the_allowed_spiffe_id_carries_16_mib_through() throws Exception {
        long failuresBefore = exit.stats().handshakeFailures();

        PythonPeer.Result result = client("frontend", "--send-random", Long.toString(SIXTEEN_MIB), "--expect-echo");

        assertThat(result.exitCode()).as(result.toString()).isZero();
        assertThat(result.lines()).as(result.toString()).anyMatch(l -> l.startsWith("OK " + SIXTEEN_MIB + " "));
        assertThat(exit.stats().handshakeFailures()).isEqualTo(failuresBefore);
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"other", "dns-only", "none"})
    void another_identity_from_the_same_ca_is_refused_on_the_inner_layer_only(String certificate) throws Exception {
        observed.clear();
        long succeededBefore = exit.stats().handshakesSucceeded();
        long refusedBefore = exit.stats().failuresByReason().getOrDefault("access_denied", 0L);

        PythonPeer.Result result =
                client(certificate.equals("none") ? null : certificate, "--send-random", "1024", "--expect-echo");

        assertThat(result.exitCode()).as(result.toString()).isNotZero();
        assertThat(String.join("\n", result.lines()))
                .as("the alert on the wire")
                .containsIgnoringCase("ACCESS_DENIED");
        await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> {
            assertThat(observed).containsExactly("ingress/inner access_denied");
            assertThat(exit.stats().failuresByReason()).contains(entry("access_denied", refusedBefore + 1));
        });
        assertThat(exit.stats().failuresByLayer()).doesNotContainKey("ingress/outer");
        assertThat(exit.stats().handshakesSucceeded()).as("the outer layer").isEqualTo(succeededBefore + 1);
    }
}
