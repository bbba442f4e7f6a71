package dev.onionrelay.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.onionrelay.support.ApiClient;
import dev.onionrelay.support.ApiClient.Response;
import dev.onionrelay.support.EchoServer;
import dev.onionrelay.support.OpenSsl;
import dev.onionrelay.support.RunningService;
import dev.onionrelay.support.Scenario;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import tools.jackson.databind.JsonNode;

/**
 * Every endpoint of API.md's Credentials, Relays and Tunnels sections, driven over real HTTP against the running
 * service: shapes, status codes, problem+json for bad input, and no private key anywhere.
 */
@Scenario
class ApiContractTest {

    static RunningService service;
    static ApiClient api;
    static EchoServer echo;

    @BeforeAll
    static void start() throws Exception {
        service = RunningService.inTemporaryDirectory();
        api = service.api();
        echo = new EchoServer();
        assertThat(api.post(
                                "/credentials",
                                Map.of("name", "ca", "generate", Map.of("ca", true, "commonName", "test CA")))
                        .status())
                .isEqualTo(201);
        assertThat(api.post(
                                "/credentials",
                                Map.of(
                                        "name",
                                        "leaf",
                                        "generate",
                                        Map.of(
                                                "issuer",
                                                "ca",
                                                "commonName",
                                                "localhost",
                                                "dnsNames",
                                                List.of("localhost"),
                                                "ipAddresses",
                                                List.of("127.0.0.1"))))
                        .status())
                .isEqualTo(201);
    }

    @AfterAll
    static void stop() throws Exception {
        service.close();
        echo.close();
    }

    private static Map<String, Object> relay(String name, int targetPort, List<?> ingress, List<?> egress) {
        return Map.of(
                "name", name,
                "listen", Map.of("host", "127.0.0.1", "port", 0),
                "target", Map.of("host", "127.0.0.1", "port", targetPort),
                "ingress", ingress,
                "egress", egress);
    }

    private static void assertProblem(Response response, int status, String field) {
        assertThat(response.status()).as(response.toString()).isEqualTo(status);
        assertThat(response.contentType()).startsWith("application/problem+json");
        JsonNode problem = response.json();
        assertThat(problem.get("status").asInt()).isEqualTo(status);
        assertThat(problem.has("title")).isTrue();
        assertThat(problem.has("type")).isTrue();
        assertThat(problem.get("detail").asString()).isNotBlank();
        if (field != null) {
            List<String> fields = new ArrayList<>();
            problem.get("errors").forEach(e -> fields.add(e.get("field").asString()));
            assertThat(fields).contains(field);
        }
    }

    @Test
    void requestsWithoutAValidTokenAre401ProblemsAndTheOpenApiDocumentIsPublic() {
        assertProblem(api.withToken(null).get("/relays"), 401, null);
        assertProblem(api.withToken("not-the-token").get("/credentials"), 401, null);
        Response docs = api.withToken(null).get("/v3/api-docs");
        assertThat(docs.status()).isEqualTo(200);
        JsonNode paths = docs.json().get("paths");
        for (String path : List.of(
                "/relays",
                "/relays/{relay}",
                "/relays/{relay}/tunnels",
                "/relays/{relay}/tunnels/{tunnel}",
                "/credentials",
                "/credentials/{name}",
                "/credentials/{name}/certificate")) {
            assertThat(paths.has(path)).as("OpenAPI documents %s", path).isTrue();
        }
    }

    @Test
    void theOpenApiDocumentShowsCreatedAndProblemAnswersAndTheSwaggerUiNeedsNoToken() {
        JsonNode paths = api.withToken(null).get("/v3/api-docs").json().get("paths");
        for (String[] create :
                List.of(new String[] {"/relays", "post"}, new String[] {"/credentials", "post"}, new String[] {
                    "/relays/{relay}/tunnels/{tunnel}/{side}/layers", "post"
                })) {
            JsonNode responses = paths.get(create[0]).get(create[1]).get("responses");
            assertThat(responses.has("201")).as("%s answers 201", create[0]).isTrue();
            assertThat(responses.has("200"))
                    .as("%s never answers 200", create[0])
                    .isFalse();
            for (String status : List.of("400", "401", "403", "409", "413", "415")) {
                assertThat(responses.get(status).get("content").has("application/problem+json"))
                        .as("%s %s documented as problem+json", create[0], status)
                        .isTrue();
            }
        }
        // Rotation and replacement in place answer 200 with the new view, and refuse like a create.
        for (String put : List.of("/relays/{relay}", "/credentials/{name}")) {
            JsonNode responses = paths.get(put).get("put").get("responses");
            for (String status : List.of("200", "400", "404", "409")) {
                assertThat(responses.has(status))
                        .as("PUT %s documents %s", put, status)
                        .isTrue();
            }
        }
        assertThat(paths.get("/relays/{relay}").get("get").get("responses").has("404"))
                .isTrue();
        // Every write can meet an unreachable store or an instance not yet ready (503 with Retry-After); reads never
        // get it, they answer from the last known state.
        for (String[] write : List.of(
                new String[] {"/relays", "post"},
                new String[] {"/relays/{relay}", "delete"},
                new String[] {"/credentials", "post"},
                new String[] {"/credentials/{name}", "delete"},
                new String[] {"/credentials/{name}", "put"},
                new String[] {"/relays/{relay}", "put"},
                new String[] {"/relays/{relay}/tunnels/{tunnel}/{side}/layers", "post"},
                new String[] {"/relays/{relay}/tunnels/{tunnel}/{side}/layers/innermost", "delete"})) {
            JsonNode unavailable =
                    paths.get(write[0]).get(write[1]).get("responses").get("503");
            assertThat(unavailable)
                    .as("%s %s documents 503", write[1], write[0])
                    .isNotNull();
            assertThat(unavailable.get("content").has("application/problem+json"))
                    .as("%s %s 503 is problem+json", write[1], write[0])
                    .isTrue();
            assertThat(unavailable.get("headers").has("Retry-After"))
                    .as("%s %s 503 names Retry-After", write[1], write[0])
                    .isTrue();
        }
        assertThat(paths.get("/relays").get("get").get("responses").has("503")).isFalse();
        // Calls about one tunnel go to the member that holds it: 504 when it may exist on one that did not answer.
        for (String[] forwarded : List.of(
                new String[] {"/relays/{relay}/tunnels/{tunnel}", "get"},
                new String[] {"/relays/{relay}/tunnels/{tunnel}", "delete"},
                new String[] {"/relays/{relay}/tunnels/{tunnel}/{side}/layers", "post"},
                new String[] {"/relays/{relay}/tunnels/{tunnel}/{side}/layers/innermost", "delete"})) {
            JsonNode timeout =
                    paths.get(forwarded[0]).get(forwarded[1]).get("responses").get("504");
            assertThat(timeout)
                    .as("%s %s documents 504", forwarded[1], forwarded[0])
                    .isNotNull();
            assertThat(timeout.get("content").has("application/problem+json")).isTrue();
        }
        assertThat(paths.get("/relays/{relay}").get("get").get("responses").has("504"))
                .as("a relay view reports an unreachable member in 'instances', never as 504")
                .isFalse();
        Response ui = api.withToken(null).get("/swagger-ui/index.html");
        assertThat(ui.status()).as(ui.toString()).isEqualTo(200);
        assertThat(ui.contentType()).startsWith("text/html");
        assertThat(api.withToken(null).get("/swagger-ui.html").status()).isIn(200, 302);
        assertThat(api.withToken(null).get("/v3/api-docs/swagger-config").status())
                .isEqualTo(200);
    }

    @Test
    void theUnauthenticatedManagementPortListensOnLoopbackOnly() throws Exception {
        int port = service.managementPort();
        try (Socket loopback = new Socket(InetAddress.getByName("127.0.0.1"), port)) {
            assertThat(loopback.isConnected()).isTrue();
        }
        // Bound to every interface it would accept 127.0.0.2 as well; bound to 127.0.0.1 it refuses it.
        assertThatThrownBy(() -> new Socket(InetAddress.getByName("127.0.0.2"), port).close())
                .isInstanceOf(java.net.ConnectException.class);
    }

    @Test
    void generatedCredentialsHaveTheDocumentedShape() {
        Response created = api.post(
                "/credentials",
                Map.of("name", "shape", "generate", Map.of("issuer", "ca", "commonName", "h1", "validity", "P30D")));
        assertThat(created.status()).isEqualTo(201);
        assertThat(created.location()).isEqualTo("/credentials/shape");
        JsonNode body = created.json();
        assertThat(body.get("kind").asString()).isEqualTo("identity");
        assertThat(body.get("subject").asString()).isEqualTo("CN=h1");
        assertThat(body.get("issuer").asString()).isEqualTo("CN=test CA");
        assertThat(body.get("hasPrivateKey").asBoolean()).isTrue();
        assertThat(body.get("usedBy").isArray()).isTrue();
        for (String field : List.of("serial", "notBefore", "notAfter", "sha256", "dnsNames", "ipAddresses")) {
            assertThat(body.has(field)).as(field).isTrue();
        }
        assertThat(api.get("/credentials/shape").json().get("sha256").asString())
                .isEqualTo(body.get("sha256").asString());
        assertThat(api.get("/credentials").json().findValuesAsString("name")).contains("ca", "leaf", "shape");
        assertThat(api.delete("/credentials/shape").status()).isEqualTo(204);
        assertProblem(api.get("/credentials/shape"), 404, null);
    }

    @Test
    void certificateEndpointServesThePemChain() {
        Response pem = api.get("/credentials/leaf/certificate");
        assertThat(pem.status()).isEqualTo(200);
        assertThat(pem.contentType()).startsWith("application/x-pem-file");
        assertThat(pem.body()).contains("-----BEGIN CERTIFICATE-----").doesNotContain("PRIVATE KEY");
        assertThat(pem.body().split("BEGIN CERTIFICATE", -1)).hasSize(3); // leaf and CA
    }

    @Test
    void importsPemIdentitiesInEveryKeyFormatAndTrustBundles(@TempDir Path dir) {
        Map<String, OpenSsl.PemPair> pairs = Map.of(
                "pkcs8", OpenSsl.ecPkcs8(dir, "pkcs8"),
                "pkcs1", OpenSsl.rsaPkcs1(dir, "pkcs1"),
                "sec1", OpenSsl.ecSec1WithParameters(dir, "sec1"));
        pairs.forEach((name, pair) -> {
            Response response = api.post(
                    "/credentials",
                    Map.of(
                            "name",
                            "imported-" + name,
                            "certificate",
                            pair.certificate(),
                            "privateKey",
                            pair.privateKey()));
            assertThat(response.status()).as(name + ": " + response).isEqualTo(201);
            assertThat(response.json().get("kind").asString()).isEqualTo("identity");
            assertThat(response.body()).doesNotContain("PRIVATE KEY");
        });
        Response trust = api.post(
                "/credentials",
                Map.of("name", "bundle", "certificate", pairs.get("pkcs8").certificate()));
        assertThat(trust.status()).isEqualTo(201);
        assertThat(trust.json().get("kind").asString()).isEqualTo("trust");
        assertThat(trust.json().get("hasPrivateKey").asBoolean()).isFalse();
    }

    @Test
    void badCredentialInputGetsAProblemNamingTheField(@TempDir Path dir) {
        OpenSsl.PemPair one = OpenSsl.ecPkcs8(dir, "one");
        OpenSsl.PemPair two = OpenSsl.ecPkcs8(dir, "two");
        assertProblem(
                api.post("/credentials", Map.of("name", "bad-pem", "certificate", "not a certificate")),
                400,
                "certificate");
        assertProblem(
                api.post(
                        "/credentials",
                        Map.of("name", "mismatch", "certificate", one.certificate(), "privateKey", two.privateKey())),
                400,
                "privateKey");
        assertProblem(
                api.post("/credentials", Map.of("name", "orphan", "generate", Map.of("issuer", "nope"))),
                400,
                "generate.issuer");
        assertProblem(api.post("/credentials", Map.of("name", "ca", "generate", Map.of("ca", true))), 409, "name");
        assertProblem(api.post("/credentials", "{not json"), 400, null);
        assertThat(api.get("/credentials").json().findValuesAsString("name"))
                .doesNotContain("bad-pem", "mismatch", "orphan");
    }

    @Test
    void relaysAreCreatedListedFoundByIdOrNameAndDeleted() {
        Response created = api.post("/relays", relay("lifecycle", echo.port(), List.of(), List.of()));
        assertThat(created.status()).as(created.toString()).isEqualTo(201);
        JsonNode body = created.json();
        String id = body.get("id").asString();
        assertThat(created.location()).isEqualTo("/relays/" + id);
        assertThat(body.get("state").asString()).isEqualTo("LISTENING");
        assertThat(body.get("listen").get("port").asInt()).isPositive();
        assertThat(body.get("target").get("port").asInt()).isEqualTo(echo.port());
        assertThat(body.get("options").get("minDepth").get("egress").asInt()).isZero();
        assertThat(body.get("options").get("handshakeTimeout").asString()).isEqualTo("PT10S");
        for (String stat : List.of("activeTunnels", "totalTunnels", "handshakeFailures", "bytesIn", "bytesOut")) {
            assertThat(body.get("stats").has(stat)).as(stat).isTrue();
        }
        assertThat(body.has("createdAt")).isTrue();
        assertThat(api.get("/relays/" + id).json().get("name").asString()).isEqualTo("lifecycle");
        assertThat(api.get("/relays/lifecycle").json().get("id").asString()).isEqualTo(id);
        assertThat(api.get("/relays").json().findValuesAsString("id")).contains(id);
        assertThat(api.delete("/relays/lifecycle").status()).isEqualTo(204);
        assertProblem(api.get("/relays/" + id), 404, null);
        assertProblem(api.delete("/relays/" + id), 404, null);
    }

    @Test
    void layerDefaultsFollowApiMd() {
        Response created = api.post(
                "/relays",
                relay(
                        "defaults",
                        echo.port(),
                        List.of(Map.of("credential", "leaf")),
                        List.of(Map.of("trust", "ca"), Map.of("trust", "ca", "serverName", "localhost"))));
        assertThat(created.status()).as(created.toString()).isEqualTo(201);
        JsonNode ingress = created.json().get("ingress").get(0);
        assertThat(ingress.get("name").asString()).isEqualTo("0");
        assertThat(ingress.get("role").asString()).isEqualTo("server");
        assertThat(ingress.get("clientAuth").asString()).isEqualTo("none");
        JsonNode egress0 = created.json().get("egress").get(0);
        assertThat(egress0.get("role").asString()).isEqualTo("client");
        assertThat(egress0.get("verify").asString()).isEqualTo("full");
        assertThat(egress0.get("serverName").asString()).isEqualTo("127.0.0.1"); // the target host
        assertThat(egress0.get("protocols").toString()).isEqualTo("[\"TLSv1.3\",\"TLSv1.2\"]");
        assertThat(created.json().get("egress").get(1).get("name").asString()).isEqualTo("1");
        assertThat(created.json().get("options").get("minDepth").get("egress").asInt())
                .isEqualTo(2);
        assertThat(api.delete("/relays/defaults").status()).isEqualTo(204);
    }

    @Test
    void badRelayInputGetsAProblemNamingTheFieldAndCreatesNothing() throws Exception {
        int before = api.get("/relays").json().size();
        assertProblem(api.post("/relays", "{not json"), 400, null);
        assertProblem(
                api.post("/relays", relay("bad-trust", echo.port(), List.of(), List.of(Map.of("trust", "nope")))),
                400,
                "egress[0].trust");
        assertProblem(
                api.post(
                        "/relays",
                        relay("bad-credential", echo.port(), List.of(Map.of("credential", "nope")), List.of())),
                400,
                "ingress[0].credential");
        assertProblem(
                api.post(
                        "/relays",
                        relay("trust-as-identity", echo.port(), List.of(Map.of("credential", "missing")), List.of())),
                400,
                "ingress[0].credential");
        assertProblem(
                api.post("/relays", relay("bad-role", echo.port(), List.of(), List.of(Map.of("role", "king")))),
                400,
                "egress[0].role");
        assertProblem(api.post("/relays", Map.of("name", "no-target", "listen", Map.of("port", 0))), 400, "target");
        assertProblem(
                api.post("/relays", Map.of("name", "bad-port", "target", Map.of("host", "127.0.0.1", "port", "x"))),
                400,
                "target.port");
        assertProblem(
                api.post(
                        "/relays",
                        Map.of(
                                "name",
                                "bad-timeout",
                                "target",
                                Map.of("host", "127.0.0.1", "port", 1),
                                "options",
                                Map.of("idleTimeout", "soon"))),
                400,
                "options.idleTimeout");
        assertThat(api.get("/relays").json().size()).isEqualTo(before);
    }

    @Test
    void portInUseAndDuplicateNameAre409AndNothingIsHalfCreated() throws Exception {
        try (ServerSocket taken = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            Map<String, Object> onTakenPort = Map.of(
                    "name", "taken",
                    "listen", Map.of("host", "127.0.0.1", "port", taken.getLocalPort()),
                    "target", Map.of("host", "127.0.0.1", "port", echo.port()));
            assertProblem(api.post("/relays", onTakenPort), 409, "listen.port");
            assertProblem(api.get("/relays/taken"), 404, null);
        }
        assertThat(api.post("/relays", relay("twice", echo.port(), List.of(), List.of()))
                        .status())
                .isEqualTo(201);
        assertProblem(api.post("/relays", relay("twice", echo.port(), List.of(), List.of())), 409, "name");
        assertThat(api.get("/relays").json().findValuesAsString("name").stream().filter("twice"::equals))
                .hasSize(1);
        assertThat(api.delete("/relays/twice").status()).isEqualTo(204);
    }

    @Test
    void credentialInUseCannotBeDeletedAndShowsItsUsers() {
        api.post("/credentials", Map.of("name", "busy", "generate", Map.of("issuer", "ca", "commonName", "busy")));
        assertThat(api.post("/relays", relay("user", echo.port(), List.of(Map.of("credential", "busy")), List.of()))
                        .status())
                .isEqualTo(201);
        assertThat(api.get("/credentials/busy").json().get("usedBy").toString()).contains("user");
        assertProblem(api.delete("/credentials/busy"), 409, "name");
        assertThat(api.delete("/relays/user").status()).isEqualTo(204);
        assertThat(api.delete("/credentials/busy").status()).isEqualTo(204);
        assertProblem(api.delete("/credentials/busy"), 404, null);
    }

    @Test
    void openTunnelsAreListedWithBothLiveStacksAndCanBeClosed() throws Exception {
        int exitPort = api.post(
                        "/relays",
                        relay(
                                "t-exit",
                                echo.port(),
                                List.of(
                                        Map.of("name", "outer", "credential", "leaf"),
                                        Map.of("name", "inner", "credential", "leaf")),
                                List.of()))
                .json()
                .get("listen")
                .get("port")
                .asInt();
        JsonNode entry = api.post(
                        "/relays",
                        relay(
                                "t-entry",
                                exitPort,
                                List.of(),
                                List.of(
                                        Map.of("name", "outer", "trust", "ca", "serverName", "localhost"),
                                        Map.of("name", "inner", "trust", "ca", "serverName", "localhost"))))
                .json();
        try (Socket client = new Socket(
                InetAddress.getLoopbackAddress(),
                entry.get("listen").get("port").asInt())) {
            client.setSoTimeout(10_000);
            OutputStream out = client.getOutputStream();
            InputStream in = client.getInputStream();
            out.write("ping".getBytes(StandardCharsets.US_ASCII));
            assertThat(new String(in.readNBytes(4), StandardCharsets.US_ASCII)).isEqualTo("ping");

            JsonNode tunnels = api.get("/relays/t-entry/tunnels").json();
            assertThat(tunnels.isArray()).isTrue();
            assertThat(tunnels.size()).isEqualTo(1);
            JsonNode tunnel = tunnels.get(0);
            assertThat(tunnel.get("relay").asString()).isEqualTo("t-entry");
            assertThat(tunnel.get("state").asString()).isEqualTo("OPEN");
            assertThat(tunnel.get("client").asString()).startsWith("127.0.0.1:");
            assertThat(tunnel.get("bytesIn").asLong()).isEqualTo(4);
            assertThat(tunnel.get("ingress").get("depth").asInt()).isZero();
            JsonNode egress = tunnel.get("egress");
            assertThat(egress.get("depth").asInt()).isEqualTo(2);
            JsonNode outer = egress.get("layers").get(0);
            assertThat(outer.get("index").asInt()).isZero();
            assertThat(outer.get("name").asString()).isEqualTo("outer");
            assertThat(outer.get("role").asString()).isEqualTo("client");
            assertThat(outer.get("state").asString()).isEqualTo("ESTABLISHED");
            assertThat(outer.get("protocol").asString()).isEqualTo("TLSv1.3");
            assertThat(outer.get("cipher").asString()).startsWith("TLS_");
            assertThat(outer.get("peer").asString()).isEqualTo("CN=localhost");
            assertThat(outer.get("provider").asString()).isIn("JDK", "OPENSSL");
            assertThat(outer.has("handshakeMillis")).isTrue();

            String id = tunnel.get("id").asString();
            assertThat(api.get("/relays/t-entry/tunnels/" + id).json().get("id").asString())
                    .isEqualTo(id);
            assertThat(api.get("/relays/t-exit/tunnels")
                            .json()
                            .get(0)
                            .get("ingress")
                            .get("depth")
                            .asInt())
                    .isEqualTo(2);
            assertProblem(api.get("/relays/t-entry/tunnels/no-such-tunnel"), 404, null);

            assertThat(api.delete("/relays/t-entry/tunnels/" + id).status()).isEqualTo(204);
            assertThat(in.read()).as("the client sees the tunnel end").isEqualTo(-1);
            await().atMost(Duration.ofSeconds(5))
                    .until(() -> api.get("/relays/t-entry/tunnels").json().isEmpty());
        } finally {
            api.delete("/relays/t-entry");
            api.delete("/relays/t-exit");
        }
    }

    @Test
    void noGetAnywhereReturnsAPrivateKey() {
        api.post("/relays", relay("walk", echo.port(), List.of(Map.of("credential", "leaf")), List.of()));
        List<String> paths = new ArrayList<>(List.of("/credentials", "/relays", "/v3/api-docs"));
        api.get("/credentials").json().forEach(c -> {
            paths.add("/credentials/" + c.get("name").asString());
            paths.add("/credentials/" + c.get("name").asString() + "/certificate");
        });
        api.get("/relays").json().forEach(r -> {
            paths.add("/relays/" + r.get("id").asString());
            paths.add("/relays/" + r.get("id").asString() + "/tunnels");
        });
        for (String path : paths) {
            Response response = api.get(path);
            assertThat(response.status()).as(path).isEqualTo(200);
            assertThat(response.body()).as(path).doesNotContain("PRIVATE KEY").doesNotContain("privateKey\":\"");
        }
        // and nothing on disk but the key files holds one
        assertThat(service.stateDir().resolve("relays")).isDirectory();
        api.delete("/relays/walk");
    }
}
