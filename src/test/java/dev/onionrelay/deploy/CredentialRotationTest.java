package dev.onionrelay.deploy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.onionrelay.credential.Credential;
import dev.onionrelay.credential.PemCodec;
import dev.onionrelay.support.ApiClient;
import dev.onionrelay.support.EchoServer;
import dev.onionrelay.support.RunningService;
import dev.onionrelay.support.Scenario;
import dev.onionrelay.support.TestPki;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.Map;
import java.util.regex.Pattern;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManagerFactory;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import tools.jackson.databind.JsonNode;

/**
 * Secret rotation: the certificate mounted for a declared relay is replaced (the kubelet's atomic {@code ..data} swap)
 * while a tunnel is open. New tunnels present the new certificate, the open one keeps working on the old; a corrupt
 * replacement keeps the credential in use and shows in the credential's status, in health and in metrics.
 */
@Scenario
class CredentialRotationTest {

    private static final String CORRUPT_CERTIFICATE =
            "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n";

    @TempDir
    Path work;

    private final TestPki pki = new TestPki();
    private EchoServer echo;
    private MountedSecret secret;
    private RunningService service;
    private ApiClient api;
    private ApiClient management;
    private SSLContext client;
    private int relayPort;

    @BeforeEach
    void start() throws Exception {
        Credential ca = pki.ca("rotation-ca");
        secret = new MountedSecret(work.resolve("secret"));
        secret.write(pem(pki.leaf("edge-v1", "rotation-ca")));
        echo = new EchoServer();
        service = new RunningService(
                Files.createDirectory(work.resolve("state")),
                "--onion.credentials.edge.certificate-file=" + secret.file("tls.crt"),
                "--onion.credentials.edge.private-key-file=" + secret.file("tls.key"),
                "--onion.credential-reload.interval=100ms",
                "--onion.relays[0].name=exit",
                "--onion.relays[0].listen.host=127.0.0.1",
                "--onion.relays[0].listen.port=0",
                "--onion.relays[0].target.host=127.0.0.1",
                "--onion.relays[0].target.port=" + echo.port(),
                "--onion.relays[0].ingress[0].credential=edge");
        api = service.api();
        management = new ApiClient(
                service.context().getEnvironment().getProperty("local.management.port", Integer.class), null);
        relayPort = api.get("/relays/exit").json().at("/listen/port").asInt();
        client = trusting(ca.leaf());
    }

    @AfterEach
    void stop() throws IOException {
        service.close();
        echo.close();
    }

    @Test
    void newTunnelsPresentTheRotatedCertificateWhileOpenOnesKeepWorking() throws Exception {
        try (SSLSocket open = connect()) {
            assertThat(peer(open)).isEqualTo("CN=edge-v1");
            assertThat(roundTrip(open, "before rotation")).isEqualTo("before rotation");

            secret.write(pem(pki.leaf("edge-v2", "rotation-ca")));

            await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> {
                try (SSLSocket fresh = connect()) {
                    assertThat(peer(fresh)).isEqualTo("CN=edge-v2");
                    assertThat(roundTrip(fresh, "new tunnel")).isEqualTo("new tunnel");
                }
            });
            assertThat(roundTrip(open, "after rotation")).isEqualTo("after rotation");
            assertThat(peer(open)).as("the open tunnel's session").isEqualTo("CN=edge-v1");

            JsonNode status = api.get("/credentials/edge").json();
            assertThat(status.at("/subject").asString()).isEqualTo("CN=edge-v2");
            assertThat(status.at("/usedBy/0").asString()).isEqualTo("exit");
            assertThat(status.at("/file/reloads").asInt()).isEqualTo(1);
            assertThat(status.at("/file/reloadError").isNull()).isTrue();
            assertThat(metric("onion_credential_reloads_total")).isEqualTo(1.0);
        }
    }

    @Test
    void aCorruptReplacementKeepsTheCredentialInUseAndIsReported() throws Exception {
        Credential v2 = pki.leaf("edge-v2", "rotation-ca");
        try (SSLSocket open = connect()) {
            assertThat(metric("onion_credential_reload_failing")).isEqualTo(0.0);
            assertThat(componentStatus("fileCredentials")).isEqualTo("UP");

            secret.write(Map.of("tls.crt", CORRUPT_CERTIFICATE, "tls.key", PemCodec.privateKeyToPem(v2.privateKey())));

            await().atMost(Duration.ofSeconds(10)).until(() -> !api.get("/credentials/edge")
                    .json()
                    .at("/file/reloadError")
                    .isNull());
            JsonNode status = api.get("/credentials/edge").json();
            assertThat(status.at("/file/reloadError").asString())
                    .contains(secret.file("tls.crt").toString())
                    .contains("not a valid X.509 certificate")
                    .doesNotContain("PRIVATE KEY");
            assertThat(status.at("/file/reloadFailures").asInt()).isEqualTo(1);
            assertThat(status.at("/subject").asString())
                    .as("still the material in use")
                    .isEqualTo("CN=edge-v1");
            assertThat(metric("onion_credential_reload_failing")).isEqualTo(1.0);
            assertThat(metric("onion_credential_reload_failures_total")).isEqualTo(1.0);
            assertThat(componentStatus("fileCredentials")).isEqualTo("DOWN");

            try (SSLSocket fresh = connect()) {
                assertThat(peer(fresh)).as("new tunnels, on the kept material").isEqualTo("CN=edge-v1");
                assertThat(roundTrip(fresh, "kept")).isEqualTo("kept");
            }
            assertThat(roundTrip(open, "still open")).isEqualTo("still open");

            // Fixing the Secret clears the failure and the fixed files take effect.
            secret.write(pem(pki.leaf("edge-v3", "rotation-ca")));
            await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> {
                try (SSLSocket fresh = connect()) {
                    assertThat(peer(fresh)).isEqualTo("CN=edge-v3");
                }
            });
            assertThat(metric("onion_credential_reload_failing")).isEqualTo(0.0);
            assertThat(metric("onion_credential_reload_failures_total")).isEqualTo(1.0);
            assertThat(componentStatus("fileCredentials")).isEqualTo("UP");
            assertThat(api.get("/credentials/edge")
                            .json()
                            .at("/file/reloadError")
                            .isNull())
                    .isTrue();
        }
    }

    private static Map<String, String> pem(Credential credential) {
        return Map.of(
                "tls.crt", PemCodec.certificatesToPem(credential.chain()),
                "tls.key", PemCodec.privateKeyToPem(credential.privateKey()));
    }

    private SSLSocket connect() throws IOException {
        SSLSocket socket =
                (SSLSocket) client.getSocketFactory().createSocket(InetAddress.getLoopbackAddress(), relayPort);
        socket.setSoTimeout(10_000);
        socket.startHandshake();
        return socket;
    }

    private static String peer(SSLSocket socket) throws IOException {
        return ((X509Certificate) socket.getSession().getPeerCertificates()[0])
                .getSubjectX500Principal()
                .getName();
    }

    private static String roundTrip(SSLSocket socket, String message) throws IOException {
        byte[] bytes = message.getBytes(StandardCharsets.UTF_8);
        OutputStream out = socket.getOutputStream();
        out.write(bytes);
        out.flush();
        byte[] back = new byte[bytes.length];
        new DataInputStream(socket.getInputStream()).readFully(back);
        return new String(back, StandardCharsets.UTF_8);
    }

    private static SSLContext trusting(X509Certificate ca) throws Exception {
        KeyStore trust = KeyStore.getInstance(KeyStore.getDefaultType());
        trust.load(null, null);
        trust.setCertificateEntry("ca", ca);
        TrustManagerFactory factory = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        factory.init(trust);
        SSLContext context = SSLContext.getInstance("TLS");
        context.init(null, factory.getTrustManagers(), null);
        return context;
    }

    /** The value of one of the credential's series on /actuator/prometheus. */
    private double metric(String name) {
        String body = management.get("/actuator/prometheus").body();
        Pattern line = Pattern.compile(
                "^" + Pattern.quote(name) + "\\{[^}]*credential=\"edge\"[^}]*} (\\S+)$", Pattern.MULTILINE);
        var matcher = line.matcher(body);
        assertThat(matcher.find())
                .as("%s{credential=\"edge\"} in the scrape", name)
                .isTrue();
        return Double.parseDouble(matcher.group(1));
    }

    private String componentStatus(String component) {
        return management
                .get("/actuator/health")
                .json()
                .at("/components/" + component + "/status")
                .asString();
    }
}
