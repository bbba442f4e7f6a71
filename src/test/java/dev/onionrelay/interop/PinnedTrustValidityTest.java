package dev.onionrelay.interop;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.onionrelay.credential.CredentialStore;
import dev.onionrelay.credential.NewCredential;
import dev.onionrelay.credential.StoreKeyMaterial;
import dev.onionrelay.layer.LayerSpec;
import dev.onionrelay.layer.TlsContexts;
import dev.onionrelay.layer.TlsProvider;
import dev.onionrelay.relay.Endpoint;
import dev.onionrelay.relay.OnionEngine;
import dev.onionrelay.relay.Relay;
import dev.onionrelay.relay.RelayObserver;
import dev.onionrelay.relay.RelaySpec;
import dev.onionrelay.relay.Transport;
import dev.onionrelay.support.FixedPorts;
import dev.onionrelay.support.Layers;
import dev.onionrelay.support.Onions;
import dev.onionrelay.support.OpenSsl;
import dev.onionrelay.support.Scenario;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.UUID;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * A self-signed certificate pinned as an egress layer's {@code trust} is checked for validity like any other
 * certificate: an expired one, presented by {@code openssl s_server}, fails the handshake with
 * {@code certificate_expired} on both TLS providers, exactly where {@code openssl verify} (and Python's ssl) reject
 * the same file. The same setup with a current certificate carries the request.
 */
@Scenario
class PinnedTrustValidityTest {

    private static final String REQUEST = "GET / HTTP/1.0\r\n\r\n";

    @TempDir
    Path work;

    static Stream<TlsProvider> providers() {
        return Stream.of(TlsProvider.values());
    }

    @ParameterizedTest
    @MethodSource("providers")
    void anExpiredSelfSignedCertificatePinnedAsTrustIsRejectedWithCertificateExpired(TlsProvider provider)
            throws Exception {
        OpenSsl.PemPair expired = OpenSsl.selfSignedServer(work, "expired", "20200101000000Z", "20200201000000Z");
        OpenSsl.Result verdict = OpenSsl.execute(work, "verify", "-CAfile", "expired.crt", "expired.crt");
        assertThat(verdict.exitCode())
                .as("openssl verify: %s", verdict.output())
                .isNotZero();
        assertThat(verdict.output()).contains("certificate has expired");

        try (PinnedEntry entry = new PinnedEntry(provider, expired, "expired")) {
            assertThat(entry.exchange()).as("no byte of the answer passes").isEmpty();
            await().atMost(Duration.ofSeconds(10))
                    .untilAsserted(() -> assertThat(entry.relay.stats().failuresByReason())
                            .containsEntry("certificate_expired", 1L));
        }
    }

    @ParameterizedTest
    @MethodSource("providers")
    void aCurrentSelfSignedCertificatePinnedAsTrustIsAccepted(TlsProvider provider) throws Exception {
        OpenSsl.PemPair current = OpenSsl.selfSignedServer(work, "current", "20200101000000Z", "20991231000000Z");

        try (PinnedEntry entry = new PinnedEntry(provider, current, "current")) {
            assertThat(entry.exchange()).startsWith("HTTP/1.0 200");
            assertThat(entry.relay.stats().handshakeFailures()).isZero();
        }
    }

    /** {@code openssl s_server -www} with the certificate, and an entry relay whose egress layer pins it as trust. */
    private final class PinnedEntry implements AutoCloseable {

        final Relay relay;
        private final Process server;
        private final OnionEngine engine;

        PinnedEntry(TlsProvider provider, OpenSsl.PemPair certificate, String name) throws Exception {
            Assumptions.assumeTrue(
                    provider != TlsProvider.OPENSSL || io.netty.handler.ssl.OpenSsl.isAvailable(),
                    "netty-tcnative is not available here");
            int port = FixedPorts.free();
            server = new ProcessBuilder(
                            "openssl",
                            "s_server",
                            "-quiet",
                            "-www",
                            "-accept",
                            "127.0.0.1:" + port,
                            "-cert",
                            name + ".crt",
                            "-key",
                            name + ".key")
                    .directory(work.toFile())
                    .redirectErrorStream(true)
                    .redirectOutput(work.resolve("s_server.log").toFile())
                    .start();
            await().atMost(Duration.ofSeconds(10)).ignoreExceptions().until(() -> {
                try (Socket probe = new Socket(InetAddress.getLoopbackAddress(), port)) {
                    return true;
                }
            });
            CredentialStore credentials = new CredentialStore(null);
            credentials.create(new NewCredential.FromPem("pinned", certificate.certificate(), null));
            engine = new OnionEngine(Transport.preferred(), 1, provider, RelayObserver.NONE);
            LayerSpec layer = Layers.client("pinned", "pinned", "localhost");
            relay = engine.open(
                    UUID.randomUUID().toString(),
                    new RelaySpec(
                            "entry",
                            new Endpoint("127.0.0.1", 0),
                            dev.onionrelay.relay.target.TargetSpec.fixed(new Endpoint("127.0.0.1", port)),
                            List.of(),
                            List.of(layer),
                            Onions.options(0, 1)),
                    List.of(),
                    List.of(new TlsContexts(new StoreKeyMaterial(credentials), provider).prepare(layer)),
                    Instant.now());
        }

        /** Sends an HTTP request through the relay and returns what came back before the connection closed. */
        String exchange() throws Exception {
            try (Socket client = new Socket(InetAddress.getLoopbackAddress(), Onions.port(relay))) {
                client.setSoTimeout(10_000);
                client.getOutputStream().write(REQUEST.getBytes(StandardCharsets.US_ASCII));
                InputStream in = client.getInputStream();
                return new String(in.readAllBytes(), StandardCharsets.US_ASCII);
            }
        }

        @Override
        public void close() {
            relay.stop();
            engine.close();
            server.destroyForcibly();
        }
    }
}
