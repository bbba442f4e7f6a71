package dev.onionrelay.fleet;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.onionrelay.support.ApiClient;
import dev.onionrelay.support.ApiClient.Response;
import dev.onionrelay.support.EchoServer;
import dev.onionrelay.support.FixedPorts;
import dev.onionrelay.support.Fleet;
import dev.onionrelay.support.PgCluster;
import dev.onionrelay.support.Scenario;
import dev.onionrelay.support.ScriptedPeer;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import tools.jackson.databind.JsonNode;

/**
 * Three service processes (a, b, c) on one PostgreSQL, each serving the same relay on its own loopback address
 * (127.0.0.1, .2, .3): any instance answers for the whole fleet. Tunnels held by one instance are listed, read and
 * changed through another; a killed member drops out after its lease and comes back when restarted; a member that
 * hangs is reported within the call timeout; a forwarded call is checked by the holder as a direct one.
 */
@Scenario
class AnyInstanceAnswersTest {

    static final Duration LEASE = Duration.ofSeconds(6);
    static final Duration STEP = Duration.ofSeconds(20);

    @TempDir
    static Path dir;

    static PgCluster cluster;
    static Fleet fleet;
    static EchoServer echo;
    static int relayPort;
    static String caFile;

    @BeforeAll
    static void startFleet() throws Exception {
        cluster = PgCluster.create();
        echo = new EchoServer();
        fleet = new Fleet(
                cluster,
                dir,
                "fleet",
                "--onion.fleet.lease=" + LEASE.toSeconds() + "s",
                "--onion.fleet.call-timeout=3s");
        fleet.start("a", "b", "c");
        ApiClient a = fleet.admin("a");
        assertThat(a.post("/credentials", Map.of("name", "ca", "generate", Map.of("ca", true)))
                        .status())
                .isEqualTo(201);
        assertThat(a.post(
                                "/credentials",
                                Map.of(
                                        "name",
                                        "hop",
                                        "generate",
                                        Map.of(
                                                "issuer",
                                                "ca",
                                                "commonName",
                                                "localhost",
                                                "dnsNames",
                                                List.of("localhost"))))
                        .status())
                .isEqualTo(201);
        caFile = dir.resolve("ca.pem").toString();
        Files.writeString(Path.of(caFile), a.get("/credentials/ca/certificate").body());
        relayPort = freePort();
        Response created = a.post(
                "/relays",
                Map.of(
                        "name", "shared",
                        "listen", Map.of("host", "127.0.0.1", "port", relayPort),
                        "target", Map.of("host", "127.0.0.1", "port", echo.port())));
        assertThat(created.status()).as(created.toString()).isEqualTo(201);
        awaitListeningOn("a", "a", "b", "c");
    }

    @AfterAll
    static void stopFleet() throws Exception {
        if (fleet != null) {
            fleet.close();
        }
        if (echo != null) {
            echo.close();
        }
        if (cluster != null) {
            cluster.close();
        }
    }

    @Test
    void tunnelsOfTwoInstancesAreListedThroughTheThirdAndOneIsPoppedThroughIt() throws Exception {
        ApiClient c = fleet.admin("c");
        List<String> steps = List.of(
                "send:plain",
                "expect:plain",
                "waitline",
                "push:ca=" + caFile + ";server_name=localhost",
                "send:inner",
                "expect:inner",
                "waitpop",
                "send:after",
                "expect:after",
                "depth:0",
                "waitline");
        try (ScriptedPeer onA = ScriptedPeer.start(
                        "client", "--connect", "127.0.0.1:" + relayPort, "--steps", String.join(",", steps));
                Socket onB = connect("b")) {
            onA.awaitLine("STEP 1 expect OK", STEP);
            assertThat(echoes(onB, "on b")).isTrue();

            JsonNode tunnels = c.get("/relays/shared/tunnels").json();
            assertThat(instancesOf(tunnels)).as(tunnels.toString()).containsExactlyInAnyOrder("a", "b");
            String onATunnel = tunnelOf(tunnels, "a");

            Response pushed = c.post(
                    "/relays/shared/tunnels/" + onATunnel + "/ingress/layers",
                    Map.of("name", "late", "credential", "hop"));
            assertThat(pushed.status()).as(pushed.toString()).isEqualTo(201);
            onA.proceed();
            onA.awaitLine("STEP 5 expect OK", STEP);
            assertThat(c.get("/relays/shared/tunnels/" + onATunnel)
                            .json()
                            .path("ingress")
                            .path("depth")
                            .asInt())
                    .isEqualTo(1);

            Response popped = c.delete("/relays/shared/tunnels/" + onATunnel + "/ingress/layers/innermost");
            assertThat(popped.status()).as(popped.toString()).isEqualTo(202);
            onA.awaitLine("STEP 6 waitpop OK depth=0", STEP);
            onA.awaitLine("STEP 8 expect OK", STEP);
            JsonNode after = c.get("/relays/shared/tunnels/" + onATunnel).json();
            assertThat(after.path("instance").asString()).isEqualTo("a");
            assertThat(after.path("ingress").path("depth").asInt(-1))
                    .as(after.toString())
                    .isZero();

            JsonNode relay = c.get("/relays/shared").json();
            assertThat(relay.path("stats").path("activeTunnels").asInt())
                    .as("summed over the fleet: %s", relay)
                    .isEqualTo(2);
            onA.proceed();
            assertThat(onA.awaitExit(STEP)).as(onA.output()).isZero();
        }
    }

    @Test
    void aKilledMemberLeavesAfterItsLeaseWhileTheOthersCarryOnAndComesBackWhenRestarted() throws Exception {
        try (Socket onA = connect("a");
                Socket onC = connect("c")) {
            assertThat(echoes(onA, "before")).isTrue();
            assertThat(echoes(onC, "before")).isTrue();
            fleet.instance("b").kill();

            assertThat(echoes(onA, "after the kill")).isTrue();
            assertThat(echoes(onC, "after the kill")).isTrue();
            JsonNode meanwhile = fleet.admin("a").get("/relays/shared").json();
            assertThat(instanceNames(meanwhile)).as(meanwhile.toString()).contains("a", "c");
            await().atMost(LEASE.multipliedBy(3))
                    .pollInterval(Duration.ofMillis(200))
                    .untilAsserted(() -> {
                        assertThat(memberNames(fleet.reader("a"))).containsExactly("a", "c");
                        assertThat(memberNames(fleet.reader("c"))).containsExactly("a", "c");
                    });
            assertThat(instanceNames(fleet.admin("c").get("/relays/shared").json()))
                    .containsExactlyInAnyOrder("a", "c");
            assertThat(echoes(onA, "after the lease")).isTrue();
            assertThat(echoes(onC, "after the lease")).isTrue();
        } finally {
            fleet.start("b");
        }

        await().atMost(Fleet.PROPAGATION).pollInterval(Duration.ofMillis(200)).untilAsserted(() -> {
            try (Socket onB = connect("b")) {
                assertThat(echoes(onB, "b is back")).isTrue();
            }
        });
        await().atMost(LEASE.multipliedBy(3))
                .pollInterval(Duration.ofMillis(200))
                .untilAsserted(() -> assertThat(memberNames(fleet.reader("a"))).containsExactly("a", "b", "c"));
        awaitListeningOn("c", "a", "b", "c");
    }

    @Test
    void aHangingMemberIsReportedWithinTheCallTimeoutAndAForwardedCallNamesIt() throws Exception {
        ApiClient a = fleet.admin("a");
        fleet.instance("c").pause();
        try {
            CompletableFuture<Response> relay = CompletableFuture.supplyAsync(() -> a.get("/relays/shared"));
            CompletableFuture<Response> tunnel =
                    CompletableFuture.supplyAsync(() -> a.get("/relays/shared/tunnels/" + UUID.randomUUID()));
            Response relayAnswer = relay.get();
            Response tunnelAnswer = tunnel.get();

            assertThat(relayAnswer.status()).isEqualTo(200);
            JsonNode onC = instance(relayAnswer.json(), "c");
            assertThat(onC.path("state").asString()).as(relayAnswer.toString()).isEqualTo("UNREACHABLE");
            assertThat(instance(relayAnswer.json(), "b").path("state").asString())
                    .isEqualTo("LISTENING");

            assertThat(tunnelAnswer.status()).as(tunnelAnswer.toString()).isEqualTo(504);
            assertThat(tunnelAnswer.contentType()).startsWith("application/problem+json");
            assertThat(tunnelAnswer.json().path("detail").asString()).contains("c (no answer within 3000 ms)");
        } finally {
            fleet.instance("c").resume();
        }
        awaitListeningOn("a", "a", "b", "c");
    }

    @Test
    void aForwardedCallIsCheckedByTheHolderAsADirectOne() throws Exception {
        try (Socket onA = connect("a")) {
            assertThat(echoes(onA, "held by a")).isTrue();
            String onATunnel = await().atMost(STEP)
                    .until(
                            () -> tunnelOfOrNull(
                                    fleet.reader("c")
                                            .get("/relays/shared/tunnels")
                                            .json(),
                                    "a"),
                            t -> t != null);
            String path = "/relays/shared/tunnels/" + onATunnel;

            Response read = fleet.reader("c").get(path);
            assertThat(read.status())
                    .as("read scope reads through another member: %s", read)
                    .isEqualTo(200);
            assertThat(read.json().path("instance").asString()).isEqualTo("a");

            Response deleteThroughC = fleet.reader("c").delete(path);
            assertThat(deleteThroughC.status()).isEqualTo(403);
            Response forwardedRead = forwarded(fleet.instance("a").apiPort(), "DELETE", path, Fleet.READ_TOKEN);
            assertThat(forwardedRead.status())
                    .as("a read token marked forwarded: %s", forwardedRead)
                    .isEqualTo(403);
            assertThat(forwardedRead.contentType()).startsWith("application/problem+json");
            Response forwardedAnonymous = forwarded(fleet.instance("a").apiPort(), "DELETE", path, null);
            assertThat(forwardedAnonymous.status())
                    .as("no token, marked forwarded")
                    .isEqualTo(401);

            assertThat(echoes(onA, "still open")).isTrue();
            Response closed = fleet.admin("c").delete(path);
            assertThat(closed.status()).as(closed.toString()).isEqualTo(204);
            assertThat(onA.getInputStream().read()).as("closed by its holder").isEqualTo(-1);
        }
    }

    private static Response forwarded(int port, String method, String path, String token) throws Exception {
        java.net.http.HttpRequest.Builder request = java.net.http.HttpRequest.newBuilder(
                        java.net.URI.create("http://127.0.0.1:" + port + path))
                .header(MemberClient.FORWARDED_BY, "c")
                .method(method, java.net.http.HttpRequest.BodyPublishers.noBody());
        if (token != null) {
            request.header("Authorization", "Bearer " + token);
        }
        java.net.http.HttpResponse<String> response = java.net.http.HttpClient.newHttpClient()
                .send(request.build(), java.net.http.HttpResponse.BodyHandlers.ofString());
        return new Response(
                response.statusCode(),
                response.headers().firstValue("Content-Type").orElse(""),
                response.body(),
                null,
                response.headers());
    }

    private static void awaitListeningOn(String asking, String... names) {
        await().atMost(Fleet.PROPAGATION).pollInterval(Duration.ofMillis(200)).untilAsserted(() -> {
            JsonNode relay = fleet.admin(asking).get("/relays/shared").json();
            for (String name : names) {
                assertThat(instance(relay, name).path("state").asString())
                        .as("%s on %s", relay, name)
                        .isEqualTo("LISTENING");
            }
        });
    }

    private static JsonNode instance(JsonNode relay, String name) {
        for (JsonNode instance : relay.path("instances")) {
            if (instance.path("name").asString().equals(name)) {
                return instance;
            }
        }
        throw new AssertionError("no instance " + name + " in " + relay);
    }

    private static List<String> instanceNames(JsonNode relay) {
        List<String> names = new ArrayList<>();
        relay.path("instances")
                .forEach(instance -> names.add(instance.path("name").asString()));
        return names;
    }

    private static List<String> instancesOf(JsonNode tunnels) {
        List<String> names = new ArrayList<>();
        tunnels.forEach(tunnel -> names.add(tunnel.path("instance").asString()));
        return names;
    }

    private static String tunnelOf(JsonNode tunnels, String instance) {
        String id = tunnelOfOrNull(tunnels, instance);
        assertThat(id).as("a tunnel on %s in %s", instance, tunnels).isNotNull();
        return id;
    }

    private static String tunnelOfOrNull(JsonNode tunnels, String instance) {
        for (JsonNode tunnel : tunnels) {
            if (tunnel.path("instance").asString().equals(instance)) {
                return tunnel.path("id").asString();
            }
        }
        return null;
    }

    private static List<String> memberNames(ApiClient api) {
        Response members = api.get("/fleet/members");
        assertThat(members.status()).as(members.toString()).isEqualTo(200);
        List<String> names = new ArrayList<>();
        members.json().forEach(member -> names.add(member.path("name").asString()));
        return names;
    }

    /** A plain TCP connection to the shared relay where that instance listens. */
    private static Socket connect(String instance) throws IOException {
        Socket socket = new Socket();
        socket.connect(new InetSocketAddress(fleet.bindAddress(instance), relayPort), 5000);
        socket.setSoTimeout(10_000);
        return socket;
    }

    /** Whether a line sent through the relay comes back from the echo target. */
    private static boolean echoes(Socket socket, String text) throws IOException {
        byte[] sent = (text + "\n").getBytes(StandardCharsets.UTF_8);
        socket.getOutputStream().write(sent);
        socket.getOutputStream().flush();
        InputStream in = socket.getInputStream();
        byte[] back = in.readNBytes(sent.length);
        return new String(back, StandardCharsets.UTF_8).equals(text + "\n");
    }

    private static int freePort() throws IOException {
        return FixedPorts.free();
    }
}
