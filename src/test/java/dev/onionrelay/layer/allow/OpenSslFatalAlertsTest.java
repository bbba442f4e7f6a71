package dev.onionrelay.layer.allow;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.onionrelay.credential.Credential;
import dev.onionrelay.credential.PemCodec;
import dev.onionrelay.support.ApiClient;
import dev.onionrelay.support.EchoServer;
import dev.onionrelay.support.Exposition;
import dev.onionrelay.support.PythonPeer;
import dev.onionrelay.support.Scenario;
import dev.onionrelay.support.ServiceProcess;
import dev.onionrelay.support.TestPki;
import java.io.File;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.time.Duration;
import java.time.Period;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManagerFactory;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Issue 26 with the default engine choice {@code auto}: a layer with {@code allow} runs on the OpenSSL engine like every
 * other layer (so {@code allow} costs no change of engine, acceptance 5), and a peer it refuses still gets {@code
 * access_denied} on the wire (OpenSslFatalAlerts), as Python's {@code ssl} and {@code openssl s_client} report it, over
 * TLS 1.3 and 1.2, with a certificate it does not allow or with none.
 *
 * <p>The service runs on this test's own runtime: in {@code ./mvnw verify} Java 17, where BoringSSL's call goes through
 * JNA; CI runs the class again on the image's Java 25 ({@code scripts/tls-tests-on-runtime.sh}), where it goes through
 * the Foreign Function API.
 */
@Scenario
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class OpenSslFatalAlertsTest {

    static final String FRONTEND = "spiffe://test.example/ns/web/sa/frontend";

    @TempDir
    static Path dir;

    final TestPki pki = new TestPki();
    ServiceProcess service;
    ApiClient api;
    EchoServer echo;
    int port;

    @BeforeAll
    void setUp() throws Exception {
        assertThat(OpenSslFatalAlerts.available())
                .as(
                        "BoringSSL's SSL_send_fatal_alert bound on Java %s: %s",
                        Runtime.version().feature(), OpenSslFatalAlerts.unavailabilityCause())
                .isTrue();
        pki.ca("ca");
        pki.ca("workloads");
        pki.leaf("server", "ca");
        Period month = Period.ofDays(30);
        pki.leaf("frontend", "workloads", List.of(), List.of(), List.of(FRONTEND), month);
        pki.leaf("other", "workloads", List.of(), List.of(), List.of("spiffe://test.example/ns/web/sa/other"), month);
        for (String name : List.of("ca", "workloads", "frontend", "other")) {
            Credential credential = pki.get(name);
            Files.writeString(dir.resolve(name + ".pem"), PemCodec.certificatesToPem(credential.chain()));
            Files.writeString(dir.resolve(name + ".key"), PemCodec.privateKeyToPem(credential.privateKey()));
        }
        echo = new EchoServer();
        Files.createDirectories(dir.resolve("state"));
        service = new ServiceProcess(dir.resolve("state"), dir.resolve("service.log"));
        service.start();
        api = service.api();
        port = openGate(api);
    }

    /** The credentials and the relay {@code gate}: one server layer allowing {@code FRONTEND} only; its port. */
    private int openGate(ApiClient api) {
        created(api.post(
                "/credentials",
                Map.of(
                        "name", "server",
                        "certificate",
                                PemCodec.certificatesToPem(pki.get("server").chain()),
                        "privateKey", PemCodec.privateKeyToPem(pki.get("server").privateKey()))));
        created(api.post(
                "/credentials",
                Map.of(
                        "name",
                        "workloads",
                        "certificate",
                        PemCodec.certificatesToPem(pki.get("workloads").chain()))));
        ApiClient.Response relay = api.post(
                "/relays",
                Map.of(
                        "name", "gate",
                        "target", Map.of("host", "127.0.0.1", "port", echo.port()),
                        "ingress",
                                List.of(Map.of(
                                        "name", "gate",
                                        "credential", "server",
                                        "trust", "workloads",
                                        "clientAuth", "require",
                                        "allow", Map.of("uris", List.of(FRONTEND))))));
        created(relay);
        return relay.json().get("listen").get("port").asInt();
    }

    @AfterAll
    void tearDown() throws Exception {
        if (service != null) {
            service.close();
        }
        if (echo != null) {
            echo.close();
        }
    }

    @Test
    void the_allowed_workload_is_served_on_the_openssl_engine() throws Exception {
        try (SSLSocket socket = (SSLSocket) frontendContext().getSocketFactory().createSocket("127.0.0.1", port)) {
            socket.setSoTimeout(30_000);
            OutputStream out = socket.getOutputStream();
            out.write("ping".getBytes(StandardCharsets.US_ASCII));
            out.flush();
            InputStream in = socket.getInputStream();
            assertThat(new String(in.readNBytes(4), StandardCharsets.US_ASCII)).isEqualTo("ping");

            ApiClient.Response tunnels = api.get("/relays/gate/tunnels");
            assertThat(tunnels.json().findValues("provider").stream().map(tools.jackson.databind.JsonNode::asString))
                    .as(tunnels.toString())
                    .isNotEmpty()
                    .containsOnly("OPENSSL");
        }
        assertThat(Files.readString(dir.resolve("service.log")))
                .contains(
                        "layers with allow run on OpenSSL",
                        Runtime.version().feature() >= 22 ? "the Foreign Function API" : "JNA");
    }

    /**
     * The operator's switch: with {@code -Donion.tls.openssl-access-denied=false} the native call is never made, the
     * layer runs on the JDK engine, a refused peer still gets {@code access_denied}, and the log says why.
     */
    @Test
    void switched_off_the_layer_runs_on_the_jdk_engine_and_still_sends_access_denied() throws Exception {
        Path state = Files.createDirectories(dir.resolve("state-switched-off"));
        Path log = dir.resolve("switched-off.log");
        try (ServiceProcess off =
                new ServiceProcess(state, log).withJvmArgs("-D" + OpenSslFatalAlerts.SWITCH + "=false")) {
            off.start();
            int gate = openGate(off.api());
            try (SSLSocket socket =
                    (SSLSocket) frontendContext().getSocketFactory().createSocket("127.0.0.1", gate)) {
                socket.setSoTimeout(30_000);
                socket.getOutputStream().write("ping".getBytes(StandardCharsets.US_ASCII));
                assertThat(new String(socket.getInputStream().readNBytes(4), StandardCharsets.US_ASCII))
                        .isEqualTo("ping");
                ApiClient.Response tunnels = off.api().get("/relays/gate/tunnels");
                assertThat(tunnels.json().findValues("provider").stream()
                                .map(tools.jackson.databind.JsonNode::asString))
                        .as(tunnels.toString())
                        .isNotEmpty()
                        .containsOnly("JDK");
            }
            assertThat(openssl("other", "TLSv1.3", gate))
                    .as("refused on the JDK engine")
                    .containsIgnoringCase("access denied");
            assertThat(Files.readString(log))
                    .contains(
                            "layers with allow run on the JDK engine",
                            "switched off by -D" + OpenSslFatalAlerts.SWITCH);
        }
    }

    @ParameterizedTest(name = "{0} with {1} over {2}")
    @CsvSource({
        "python, other, TLSv1.3",
        "python, none, TLSv1.3",
        "openssl, other, TLSv1.3",
        "openssl, none, TLSv1.3",
        "openssl, other, TLSv1.2",
        "openssl, none, TLSv1.2"
    })
    void a_refused_peer_gets_access_denied_from_the_openssl_engine(String client, String certificate, String protocol)
            throws Exception {
        long refusedBefore = refusals();

        String output = client.equals("python") ? python(certificate) : openssl(certificate, protocol, port);

        assertThat(output).as("what the client reports").containsIgnoringCase("access denied");
        await().atMost(Duration.ofSeconds(10)).until(() -> refusals() == refusedBefore + 1);
    }

    /** {@code onion_handshake_failures_total} with reason {@code access_denied}, summed over its series. */
    private long refusals() {
        return (long) Exposition.scrape(service.management())
                .sum("onion_handshake_failures_total", Map.of("reason", "access_denied"));
    }

    private String python(String certificate) throws Exception {
        String layer = "ca=" + dir.resolve("ca.pem") + ",server_name=localhost"
                + (certificate.equals("none")
                        ? ""
                        : ",cert=" + dir.resolve(certificate + ".pem") + ",key=" + dir.resolve(certificate + ".key"));
        PythonPeer.Result result = PythonPeer.run(
                Duration.ofSeconds(60),
                "nested_tls.py",
                "client",
                "--connect",
                "127.0.0.1:" + port,
                "--layer",
                layer,
                "--send-random",
                "1024",
                "--expect-echo");
        assertThat(result.exitCode()).as(result.toString()).isNotZero();
        return String.join("\n", result.lines()).replace('_', ' ');
    }

    private String openssl(String certificate, String protocol, int port) throws Exception {
        List<String> command = new ArrayList<>(List.of(
                "openssl",
                "s_client",
                "-connect",
                "127.0.0.1:" + port,
                "-CAfile",
                dir.resolve("ca.pem").toString(),
                "-servername",
                "localhost",
                protocol.equals("TLSv1.3") ? "-tls1_3" : "-tls1_2",
                // Reads until the server closes: in TLS 1.3 the refusal comes after the client's last flight.
                "-ign_eof"));
        if (!certificate.equals("none")) {
            command.addAll(List.of(
                    "-cert",
                    dir.resolve(certificate + ".pem").toString(),
                    "-key",
                    dir.resolve(certificate + ".key").toString()));
        }
        Process process = new ProcessBuilder(command)
                .redirectErrorStream(true)
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                .start();
        String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(process.waitFor(60, TimeUnit.SECONDS)).isTrue();
        return output;
    }

    private SSLContext frontendContext() throws Exception {
        Credential frontend = pki.get("frontend");
        KeyStore keys = KeyStore.getInstance("PKCS12");
        keys.load(null, null);
        keys.setKeyEntry(
                "frontend", frontend.privateKey(), new char[0], frontend.chain().toArray(Certificate[]::new));
        KeyManagerFactory keyManagers = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
        keyManagers.init(keys, new char[0]);
        KeyStore trust = KeyStore.getInstance("PKCS12");
        trust.load(null, null);
        trust.setCertificateEntry("ca", pki.get("ca").chain().get(0));
        TrustManagerFactory trustManagers = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        trustManagers.init(trust);
        SSLContext context = SSLContext.getInstance("TLS");
        context.init(keyManagers.getKeyManagers(), trustManagers.getTrustManagers(), null);
        return context;
    }

    private static void created(ApiClient.Response response) {
        assertThat(response.status()).as(response.toString()).isEqualTo(201);
    }
}
