package dev.onionrelay.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.onionrelay.support.ApiClient;
import dev.onionrelay.support.ApiClient.Response;
import dev.onionrelay.support.EchoServer;
import dev.onionrelay.support.LeakCheck;
import dev.onionrelay.support.RunningService;
import dev.onionrelay.support.Scenario;
import dev.onionrelay.support.ScriptedPeer;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import tools.jackson.databind.JsonNode;

/**
 * startTLS and stopTLS on live tunnels through the API, against an independent nested-TLS peer (Python's ssl over
 * MemoryBIO): layers pushed and popped on either side, by either end, on one TCP connection that never closes.
 */
@ExtendWith(LeakCheck.class)
@Scenario
class LayerPushPopTest {

    static final Duration STEP = Duration.ofSeconds(15);

    @TempDir
    static Path files;

    static RunningService service;
    static ApiClient api;
    static EchoServer echo;
    static String caFile;

    @BeforeAll
    static void start() throws Exception {
        service = RunningService.inTemporaryDirectory("--onion.limits.max-depth=3");
        api = service.api();
        echo = new EchoServer();
        api.post("/credentials", Map.of("name", "ca", "generate", Map.of("ca", true)));
        api.post(
                "/credentials",
                Map.of(
                        "name",
                        "hop",
                        "generate",
                        Map.of("issuer", "ca", "commonName", "localhost", "dnsNames", List.of("localhost"))));
        caFile = write("ca.pem", api.get("/credentials/ca/certificate").body());
    }

    @AfterAll
    static void stop() throws Exception {
        service.close();
        echo.close();
    }

    private static String write(String name, String content) throws Exception {
        Path file = files.resolve(name);
        Files.writeString(file, content);
        return file.toString();
    }

    private static String relay(String name, int targetPort, Map<String, Object> options) {
        Response created = api.post(
                "/relays",
                Map.of(
                        "name", name,
                        "target", Map.of("host", "127.0.0.1", "port", targetPort),
                        "options", options));
        assertThat(created.status()).as(created.toString()).isEqualTo(201);
        return created.json().get("id").asString();
    }

    private static String onlyTunnel(String relay) {
        JsonNode tunnels = api.get("/relays/" + relay + "/tunnels").json();
        assertThat(tunnels.size()).as("open tunnels of %s", relay).isEqualTo(1);
        return tunnels.get(0).get("id").asString();
    }

    private static String clientLayer() {
        return "push:ca=" + caFile + ";server_name=localhost";
    }

    private static JsonNode tunnel(String relay, String tunnel) {
        return api.get("/relays/" + relay + "/tunnels/" + tunnel).json();
    }

    @Test
    void threeLayersPushedThroughTheApiThenPoppedByThePeerEndInPlaintextOnTheSameConnection() throws Exception {
        relay("peer-pops", echo.port(), Map.of());
        List<String> steps = new ArrayList<>(List.of("send:plain,expect:plain"));
        for (int depth = 1; depth <= 3; depth++) {
            steps.add("waitline," + clientLayer() + ",send:in" + depth + ",expect:in" + depth);
        }
        steps.add("depth:3,waitline");
        for (int depth = 2; depth >= 0; depth--) {
            steps.add("pop,send:out" + depth + ",expect:out" + depth);
        }
        steps.add("depth:0");
        try (ScriptedPeer peer = ScriptedPeer.start(
                "client", "--connect", "127.0.0.1:" + port("peer-pops"), "--steps", String.join(",", steps))) {
            peer.awaitLine("STEP 1 expect OK", STEP);
            String tunnel = onlyTunnel("peer-pops");
            for (int depth = 1; depth <= 3; depth++) {
                Response pushed = api.post(
                        "/relays/peer-pops/tunnels/" + tunnel + "/ingress/layers",
                        Map.of("name", "pushed" + depth, "credential", "hop"));
                assertThat(pushed.status()).as(pushed.toString()).isEqualTo(201);
                assertThat(pushed.json().get("role").asString()).isEqualTo("server");
                assertThat(pushed.json().get("index").asInt()).isEqualTo(depth - 1);
                peer.proceed();
                peer.awaitLine("STEP " + (5 + 4 * (depth - 1)) + " expect OK", STEP);
                JsonNode ingress = tunnel("peer-pops", tunnel).get("ingress");
                assertThat(ingress.get("depth").asInt()).isEqualTo(depth);
                assertThat(ingress.get("layers").get(depth - 1).get("state").asString())
                        .isEqualTo("ESTABLISHED");
            }
            peer.proceed(); // now the peer pops its three layers
            assertThat(peer.awaitExit(STEP)).as(peer.output()).isZero();
            assertThat(peer.output()).contains("POPPED 2 by=local", "POPPED 1 by=local", "POPPED 0 by=local", "DONE");
        }
        JsonNode relay = api.get("/relays/peer-pops").json();
        assertThat(relay.get("stats").get("totalTunnels").asInt())
                .as("one TCP connection")
                .isEqualTo(1);
        assertThat(relay.get("stats").get("bytesIn").asInt())
                .as("plain + in1..3 + out2..0")
                .isEqualTo("plain".length() + 3 * 3 + 3 * 4);
        assertThat(api.delete("/relays/peer-pops").status()).isEqualTo(204);
    }

    @Test
    void threeLayersPoppedThroughTheApiAreAnsweredByThePeerWhichKeepsTalking() throws Exception {
        relay("local-pops", echo.port(), Map.of());
        List<String> steps = new ArrayList<>(List.of("send:plain,expect:plain"));
        for (int depth = 1; depth <= 3; depth++) {
            steps.add("waitline," + clientLayer() + ",send:in" + depth + ",expect:in" + depth);
        }
        for (int depth = 2; depth >= 0; depth--) {
            steps.add("waitpop,send:out" + depth + ",expect:out" + depth);
        }
        steps.add("depth:0,waitline");
        try (ScriptedPeer peer = ScriptedPeer.start(
                "client", "--connect", "127.0.0.1:" + port("local-pops"), "--steps", String.join(",", steps))) {
            peer.awaitLine("STEP 1 expect OK", STEP);
            String tunnel = onlyTunnel("local-pops");
            for (int depth = 1; depth <= 3; depth++) {
                assertThat(api.post(
                                        "/relays/local-pops/tunnels/" + tunnel + "/ingress/layers",
                                        Map.of("credential", "hop"))
                                .status())
                        .isEqualTo(201);
                peer.proceed();
                peer.awaitLine("STEP " + (5 + 4 * (depth - 1)) + " expect OK", STEP);
            }
            int step = 14;
            for (int depth = 2; depth >= 0; depth--) {
                Response popped = api.delete("/relays/local-pops/tunnels/" + tunnel + "/ingress/layers/innermost");
                assertThat(popped.status()).as(popped.toString()).isEqualTo(202);
                peer.awaitLine("STEP " + step + " waitpop OK depth=" + depth, STEP);
                peer.awaitLine("STEP " + (step + 2) + " expect OK", STEP);
                JsonNode status = tunnel("local-pops", tunnel);
                assertThat(status.path("ingress").path("depth").asInt(-1))
                        .as("%s\npeer:\n%s", status, peer.output())
                        .isEqualTo(depth);
                step += 3;
            }
            Response atMinimum = api.delete("/relays/local-pops/tunnels/" + tunnel + "/ingress/layers/innermost");
            assertThat(atMinimum.status()).as("pop below the minimum depth 0").isEqualTo(409);
            assertThat(atMinimum.contentType()).startsWith("application/problem+json");
            peer.proceed();
            assertThat(peer.awaitExit(STEP)).as(peer.output()).isZero();
        }
        assertThat(api.delete("/relays/local-pops").status()).isEqualTo(204);
    }

    @Test
    void aClientLayerPushedOnTheEgressSideMeetsATargetThatStartsTlsThereAndIsPoppedAgain() throws Exception {
        // The target's own identity comes from openssl (self-signed); the relay trusts exactly that certificate.
        dev.onionrelay.support.OpenSsl.PemPair target = dev.onionrelay.support.OpenSsl.ecPkcs8(files, "localhost");
        String targetCert = write("target.pem", target.certificate());
        String identityKey = write("target.key", target.privateKey());
        assertThat(api.post("/credentials", Map.of("name", "target-trust", "certificate", target.certificate()))
                        .status())
                .isEqualTo(201);
        try (ScriptedPeer server = ScriptedPeer.start(
                "server",
                "--listen",
                "127.0.0.1:0",
                "--once",
                "--steps",
                "expect:before,send:ready,push:cert=" + targetCert + ";key=" + identityKey
                        + ",expect:inside,send:inside-ack,waitpop,expect:after,send:after-ack,expecteof")) {
            int port = Integer.parseInt(server.awaitLine("LISTENING", STEP)
                    .substring("LISTENING ".length())
                    .trim());
            relay("egress-push", port, Map.of());
            try (Socket client = new Socket(InetAddress.getLoopbackAddress(), port("egress-push"))) {
                client.setSoTimeout(15_000);
                OutputStream out = client.getOutputStream();
                InputStream in = client.getInputStream();
                out.write(ascii("before"));
                assertThat(new String(in.readNBytes(5), StandardCharsets.US_ASCII))
                        .isEqualTo("ready");
                String tunnel = onlyTunnel("egress-push");

                Response pushed = api.post(
                        "/relays/egress-push/tunnels/" + tunnel + "/egress/layers",
                        Map.of("name", "late", "trust", "target-trust", "serverName", "localhost", "verify", "chain"));
                assertThat(pushed.status()).as(pushed.toString()).isEqualTo(201);
                assertThat(pushed.json().get("role").asString()).isEqualTo("client");
                out.write(ascii("inside"));
                assertThat(new String(in.readNBytes(10), StandardCharsets.US_ASCII))
                        .isEqualTo("inside-ack");
                JsonNode egress = tunnel("egress-push", tunnel).get("egress");
                assertThat(egress.get("depth").asInt()).isEqualTo(1);
                assertThat(egress.get("layers").get(0).get("state").asString()).isEqualTo("ESTABLISHED");
                assertThat(egress.get("layers").get(0).get("protocol").asString())
                        .isEqualTo("TLSv1.3");

                assertThat(api.delete("/relays/egress-push/tunnels/" + tunnel + "/egress/layers/innermost")
                                .status())
                        .isEqualTo(202);
                server.awaitLine("STEP 5 waitpop OK depth=0", STEP);
                await().atMost(Duration.ofSeconds(5))
                        .until(() -> tunnel("egress-push", tunnel)
                                        .get("egress")
                                        .get("depth")
                                        .asInt()
                                == 0);
                out.write(ascii("after"));
                assertThat(new String(in.readNBytes(9), StandardCharsets.US_ASCII))
                        .isEqualTo("after-ack");
                client.shutdownOutput();
                assertThat(in.read()).isEqualTo(-1);
            }
            assertThat(server.awaitExit(STEP)).as(server.output()).isZero();
        }
        assertThat(api.delete("/relays/egress-push").status()).isEqualTo(204);
    }

    @Test
    void pushesPastTheMaximumDepthOrWithoutVerificationAndPopsAtTheMinimumAreRefusedAndNothingGetsStuck()
            throws Exception {
        try (ServerSocket silent = new ServerSocket(0, 10, InetAddress.getLoopbackAddress())) {
            relay("refusals", silent.getLocalPort(), Map.of());
            try (Socket client = new Socket(InetAddress.getLoopbackAddress(), port("refusals"));
                    Socket accepted = silent.accept()) {
                await().atMost(Duration.ofSeconds(5)).until(() -> "OPEN"
                        .equals(api.get("/relays/refusals/tunnels")
                                .json()
                                .path(0)
                                .path("state")
                                .asString()));
                String tunnel = onlyTunnel("refusals");
                String layers = "/relays/refusals/tunnels/" + tunnel + "/egress/layers";

                Response insecure = api.post(layers, Map.of("verify", "none"));
                assertThat(insecure.status()).as(insecure.toString()).isEqualTo(403);
                assertThat(insecure.contentType()).startsWith("application/problem+json");

                Response unknownTrust = api.post(layers, Map.of("trust", "nope"));
                assertThat(unknownTrust.status()).as(unknownTrust.toString()).isEqualTo(400);
                assertThat(unknownTrust.json().get("errors").get(0).get("field").asString())
                        .isEqualTo("egress[0].trust");

                Response popPlain = api.delete(layers + "/innermost");
                assertThat(popPlain.status()).as("nothing to pop at depth 0").isEqualTo(409);

                for (int i = 0; i < 3; i++) {
                    // The silent target never answers: the handshakes stay in progress, the depth still counts.
                    assertThat(api.post(layers, Map.of("trust", "ca", "handshakeTimeout", "30s"))
                                    .status())
                            .isEqualTo(201);
                    if (i == 0) {
                        // Layer names label status and metrics: a second live layer "0" would merge with the first.
                        Response sameName = api.post(layers, Map.of("trust", "ca", "name", "0"));
                        assertThat(sameName.status()).as(sameName.toString()).isEqualTo(400);
                        assertThat(sameName.json()
                                        .get("errors")
                                        .get(0)
                                        .get("field")
                                        .asString())
                                .isEqualTo("name");
                    }
                }
                Response tooDeep = api.post(layers, Map.of("trust", "ca"));
                assertThat(tooDeep.status()).as(tooDeep.toString()).isEqualTo(429);
                assertThat(tooDeep.contentType()).startsWith("application/problem+json");

                assertThat(api.delete("/relays/refusals/tunnels/" + tunnel).status())
                        .isEqualTo(204);
                await().atMost(Duration.ofSeconds(5))
                        .until(() -> api.get("/relays/refusals/tunnels").json().isEmpty());
            }
        }
        assertThat(api.delete("/relays/refusals").status()).isEqualTo(204);
    }

    @Test
    void pushOnAHalfClosedTunnelIsRefused() throws Exception {
        try (ServerSocket silent = new ServerSocket(0, 10, InetAddress.getLoopbackAddress())) {
            relay("closing", silent.getLocalPort(), Map.of());
            try (Socket client = new Socket(InetAddress.getLoopbackAddress(), port("closing"));
                    Socket accepted = silent.accept()) {
                await().atMost(Duration.ofSeconds(5)).until(() -> "OPEN"
                        .equals(api.get("/relays/closing/tunnels")
                                .json()
                                .path(0)
                                .path("state")
                                .asString()));
                String tunnel = onlyTunnel("closing");
                client.shutdownOutput();
                await().atMost(Duration.ofSeconds(5)).until(() -> "HALF_CLOSED"
                        .equals(tunnel("closing", tunnel).path("state").asString()));
                Response closing =
                        api.post("/relays/closing/tunnels/" + tunnel + "/ingress/layers", Map.of("credential", "hop"));
                assertThat(closing.status()).as(closing.toString()).isEqualTo(409);
                assertThat(closing.contentType()).startsWith("application/problem+json");
                assertThat(api.delete("/relays/closing/tunnels/" + tunnel).status())
                        .isEqualTo(204);
                await().atMost(Duration.ofSeconds(5))
                        .until(() -> api.get("/relays/closing/tunnels").json().isEmpty());
            }
        }
        assertThat(api.delete("/relays/closing").status()).isEqualTo(204);
    }

    private static int port(String relay) {
        return api.get("/relays/" + relay).json().get("listen").get("port").asInt();
    }

    private static byte[] ascii(String text) {
        return text.getBytes(StandardCharsets.US_ASCII);
    }
}
