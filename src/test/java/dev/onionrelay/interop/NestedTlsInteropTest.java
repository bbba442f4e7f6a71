package dev.onionrelay.interop;

import static org.assertj.core.api.Assertions.assertThat;

import dev.onionrelay.credential.Credential;
import dev.onionrelay.credential.PemCodec;
import dev.onionrelay.layer.LayerSpec;
import dev.onionrelay.relay.Relay;
import dev.onionrelay.support.EchoServer;
import dev.onionrelay.support.Layers;
import dev.onionrelay.support.Onions;
import dev.onionrelay.support.PythonPeer;
import dev.onionrelay.support.Scenario;
import dev.onionrelay.support.Traffic;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Interop with independent TLS implementations, both directions, at depth 2 and 3: CPython's ssl (OpenSSL through
 * MemoryBIO, nested by {@code nested_tls.py}) as the client peeled by a relay's ingress layers and as the server
 * that terminates a relay's egress layers; and the {@code openssl s_client} CLI against a one-layer relay.
 */
@Scenario
class NestedTlsInteropTest {

    static final long EIGHT_MIB = 8L << 20;

    @TempDir
    Path dir;

    Onions onions;
    EchoServer echo;

    @BeforeEach
    void setUp() throws Exception {
        onions = new Onions();
        echo = new EchoServer();
        onions.pki.ca("ca");
        onions.pki.ca("clients");
        onions.pki.leaf("hop0", "ca");
        onions.pki.leaf("hop1", "ca");
        onions.pki.leaf("hop2", "ca");
        onions.pki.leaf("python-client", "clients");
        for (String name : List.of("ca", "clients", "hop0", "hop1", "hop2", "python-client")) {
            Credential credential = onions.pki.get(name);
            Files.writeString(dir.resolve(name + ".pem"), PemCodec.certificatesToPem(credential.chain()));
            Files.writeString(dir.resolve(name + ".key"), PemCodec.privateKeyToPem(credential.privateKey()));
        }
    }

    @AfterEach
    void tearDown() throws Exception {
        onions.close();
        echo.close();
    }

    private String file(String name) {
        return dir.resolve(name).toString();
    }

    @Test
    void pythonNestedClientAtDepthThreeIsPeeledByTheRelaysIngressLayers() throws Exception {
        Relay exit = onions.relay(
                "exit",
                echo.port(),
                List.of(
                        Layers.server("L0", "hop0"),
                        Layers.serverRequiringClientCertificate("L1", "hop1", "clients"),
                        Layers.server("L2", "hop2")),
                List.of());

        PythonPeer.Result client = PythonPeer.run(
                Duration.ofSeconds(60),
                "nested_tls.py",
                "client",
                "--connect",
                "127.0.0.1:" + Onions.port(exit),
                "--layer",
                "ca=" + file("ca.pem") + ",server_name=localhost",
                "--layer",
                "ca=" + file("ca.pem") + ",server_name=localhost,cert=" + file("python-client.pem") + ",key="
                        + file("python-client.key"),
                "--layer",
                "ca=" + file("ca.pem") + ",server_name=localhost",
                "--send-random",
                Long.toString(EIGHT_MIB),
                "--expect-echo");

        assertThat(client.exitCode()).as(client.toString()).isZero();
        assertThat(client.lines()).as(client.toString()).anyMatch(l -> l.startsWith("OK " + EIGHT_MIB + " "));
        assertThat(client.lines().stream().filter(l -> l.startsWith("LAYER ")).toList())
                .as("three layers, each with the hop certificate of its depth")
                .hasSize(3)
                .allMatch(l -> l.contains("TLSv1.3"));
        assertThat(exit.stats().bytesIn()).isEqualTo(EIGHT_MIB);
        assertThat(exit.stats().handshakeFailures()).isZero();
    }

    @Test
    void relaysEgressLayersAreTerminatedByAPythonNestedServerAtDepthTwo() throws Exception {
        Process server = PythonPeer.start(
                "nested_tls.py",
                "server",
                "--listen",
                "127.0.0.1:0",
                "--layer",
                "cert=" + file("hop0.pem") + ",key=" + file("hop0.key"),
                "--layer",
                "cert=" + file("hop1.pem") + ",key=" + file("hop1.key") + ",ca=" + file("clients.pem"),
                "--echo");
        try {
            BufferedReader output =
                    new BufferedReader(new InputStreamReader(server.getInputStream(), StandardCharsets.UTF_8));
            String first = output.readLine();
            assertThat(first).startsWith("LISTENING ");
            int port = Integer.parseInt(first.substring("LISTENING ".length()).trim());
            List<LayerSpec> egress = List.of(
                    Layers.client("L0", "ca", "localhost"),
                    Layers.clientWithCertificate("L1", "ca", "localhost", "python-client"));
            Relay entry = onions.relay("entry", port, List.of(), egress);

            Traffic.Echo result = Traffic.echo(Onions.port(entry), EIGHT_MIB);

            assertThat(result.intact()).as(result.toString()).isTrue();
            assertThat(entry.stats().handshakeFailures()).isZero();
        } finally {
            server.destroy();
            server.waitFor(5, TimeUnit.SECONDS);
        }
    }

    @Test
    void opensslSClientTalksToAOneLayerRelay() throws Exception {
        Relay relay = onions.relay("one", echo.port(), List.of(Layers.server("L0", "hop0")), List.of());
        Process sClient = new ProcessBuilder(
                        "openssl",
                        "s_client",
                        "-connect",
                        "127.0.0.1:" + Onions.port(relay),
                        "-CAfile",
                        file("ca.pem"),
                        "-servername",
                        "localhost",
                        "-verify_hostname",
                        "localhost",
                        "-verify_return_error",
                        "-quiet")
                .redirectErrorStream(true)
                .start();
        try (OutputStream stdin = sClient.getOutputStream()) {
            stdin.write("hello through one layer\n".getBytes(StandardCharsets.US_ASCII));
            stdin.flush();
            BufferedReader output =
                    new BufferedReader(new InputStreamReader(sClient.getInputStream(), StandardCharsets.UTF_8));
            String line;
            boolean echoed = false;
            while ((line = output.readLine()) != null) {
                if (line.equals("hello through one layer")) {
                    echoed = true;
                    break;
                }
            }
            assertThat(echoed).as("openssl s_client got its line echoed").isTrue();
        } finally {
            sClient.destroy();
            sClient.waitFor(5, TimeUnit.SECONDS);
        }
        assertThat(relay.stats().handshakesSucceeded()).isEqualTo(1);
        assertThat(relay.stats().handshakeFailures()).isZero();
    }
}
