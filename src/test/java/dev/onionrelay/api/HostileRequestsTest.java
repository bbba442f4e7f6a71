package dev.onionrelay.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.onionrelay.support.ApiClient;
import dev.onionrelay.support.EchoServer;
import dev.onionrelay.support.RawHttp;
import dev.onionrelay.support.RunningService;
import dev.onionrelay.support.Scenario;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Stream;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.MethodSource;
import tools.jackson.databind.JsonNode;

/**
 * Hundreds of malformed and hostile requests against the running service over real HTTP: unknown fields at every
 * level, wrong JSON types, duplicate keys, TLS settings that can never work, absurd durations, oversized and chunked
 * bodies, odd encodings and content types, broken paths, headers and methods. Each one gets a 4xx answer in
 * {@code application/problem+json} with our problem type, and none of them creates or changes anything.
 */
@Scenario
class HostileRequestsTest {

    static final String RELAY_OK = "{\"name\":\"hostile\",\"target\":{\"host\":\"127.0.0.1\",\"port\":9}";
    static final String CREDENTIAL_OK = "{\"name\":\"hostile\",\"generate\":{\"ca\":true";
    static final String LAYER_OK = "{\"name\":\"pushed\",\"credential\":\"leaf\"";

    static RunningService service;
    static ApiClient api;
    static EchoServer echo;
    static Socket client;
    static String pushPath;
    static Snapshot before;

    /** One request: where it goes, what it carries, and the status it must get (0: any 4xx). */
    record Case(
            String name,
            String method,
            String path,
            @Nullable String contentType,
            byte[] body,
            int status) {

        static Case json(String name, String path, String body, int status) {
            return new Case(name, "POST", path, "application/json", body.getBytes(StandardCharsets.UTF_8), status);
        }

        @Override
        public String toString() {
            return name;
        }
    }

    /** What the API shows of relays, credentials and the live tunnel: must be the same after every case. */
    record Snapshot(String relays, String credentials, String tunnel) {}

    @BeforeAll
    static void start() throws IOException {
        service = RunningService.inTemporaryDirectory();
        api = service.api();
        echo = new EchoServer();
        assertThat(api.post("/credentials", "{\"name\":\"ca\",\"generate\":{\"ca\":true}}")
                        .status())
                .isEqualTo(201);
        assertThat(api.post(
                                "/credentials",
                                "{\"name\":\"leaf\",\"generate\":{\"issuer\":\"ca\",\"dnsNames\":[\"localhost\"]}}")
                        .status())
                .isEqualTo(201);
        ApiClient.Response relay = api.post(
                "/relays", "{\"name\":\"base\",\"target\":{\"host\":\"127.0.0.1\",\"port\":" + echo.port() + "}}");
        assertThat(relay.status()).as(relay.toString()).isEqualTo(201);
        int port = relay.json().get("listen").get("port").asInt();
        client = new Socket(InetAddress.getLoopbackAddress(), port);
        await().atMost(Duration.ofSeconds(10))
                .until(() -> api.get("/relays/base/tunnels").json().size() == 1);
        String tunnel = api.get("/relays/base/tunnels").json().get(0).get("id").asString();
        pushPath = "/relays/base/tunnels/" + tunnel + "/ingress/layers";
        before = snapshot();
    }

    @AfterAll
    static void stop() throws IOException {
        client.close();
        service.close();
        echo.close();
    }

    static Snapshot snapshot() {
        JsonNode tunnel = api.get("/relays/base/tunnels").json().get(0);
        return new Snapshot(
                names(api.get("/relays").json()),
                names(api.get("/credentials").json()),
                tunnel.get("id").asString() + " " + tunnel.get("ingress") + " " + tunnel.get("egress"));
    }

    private static String names(JsonNode list) {
        List<String> names = new ArrayList<>();
        list.forEach(item -> names.add(item.get("name").asString()));
        return names.toString();
    }

    static Stream<Case> bodies() {
        List<Case> cases = new ArrayList<>();
        unknownFields(cases);
        wrongTypes(cases);
        duplicateKeys(cases);
        impossibleTlsSettings(cases);
        absurdValues(cases);
        malformedJson(cases);
        strictValues(cases);
        return cases.stream();
    }

    static Stream<Case> transport() {
        List<Case> cases = new ArrayList<>();
        contentTypes(cases);
        pathsAndMethods(cases);
        return cases.stream();
    }

    /** A misspelt or unexpected field anywhere would otherwise drop a layer or a check without a word. */
    private static void unknownFields(List<Case> cases) {
        Map<String, String> relayLevels = new LinkedHashMap<>();
        relayLevels.put("relay", RELAY_OK + ",%s}");
        relayLevels.put("listen", RELAY_OK + ",\"listen\":{\"port\":0,%s}}");
        relayLevels.put("target", "{\"name\":\"hostile\",\"target\":{\"host\":\"127.0.0.1\",\"port\":9,%s}}");
        relayLevels.put("options", RELAY_OK + ",\"options\":{\"maxTunnels\":1,%s}}");
        relayLevels.put("minDepth", RELAY_OK + ",\"options\":{\"minDepth\":{\"egress\":0,%s}}}");
        relayLevels.put("ingress layer", RELAY_OK + ",\"ingress\":[{\"credential\":\"leaf\",%s}]}");
        relayLevels.put("egress layer", RELAY_OK + ",\"egress\":[{\"trust\":\"ca\",%s}]}");
        List<String> typos =
                List.of("\"Ingress\":[]", "\"egres\":[]", "\"trsut\":\"ca\"", "\"clientAuht\":\"require\"", "\"\":1");
        relayLevels.forEach((level, template) -> {
            for (String typo : typos) {
                cases.add(
                        Case.json("unknown field " + typo + " in " + level, "/relays", template.formatted(typo), 400));
            }
        });
        for (String typo : List.of("\"nmae\":\"x\"", "\"private_key\":\"x\"", "\"Generate\":{}")) {
            cases.add(Case.json(
                    "unknown credential field " + typo, "/credentials", CREDENTIAL_OK + "}," + typo + "}", 400));
            cases.add(Case.json(
                    "unknown generate field " + typo, "/credentials", CREDENTIAL_OK + "," + typo + "}}", 400));
            cases.add(Case.json("unknown pushed-layer field " + typo, "PUSH", LAYER_OK + "," + typo + "}", 400));
        }
    }

    /**
     * Values that would otherwise be guessed at: {@code null} (counted as absent: {@code "listen": null} gave a random
     * port), enum values in another case, fields the layer's role has no use for, client certificates checked against
     * public CAs by default, and text that is not Unicode (a lone surrogate in a common name was a 500).
     */
    private static void strictValues(List<Case> cases) {
        Map<String, String> nulls = new LinkedHashMap<>();
        nulls.put("name", "{\"name\":null,\"target\":{\"host\":\"127.0.0.1\",\"port\":9}}");
        nulls.put("listen", RELAY_OK + ",\"listen\":null}");
        nulls.put("listen.port", RELAY_OK + ",\"listen\":{\"port\":null}}");
        nulls.put("target.mode", "{\"name\":\"hostile\",\"target\":{\"host\":\"127.0.0.1\",\"port\":9,\"mode\":null}}");
        nulls.put("ingress", RELAY_OK + ",\"ingress\":null}");
        nulls.put("egress[0]", RELAY_OK + ",\"egress\":[null]}");
        nulls.put("egress[0].verify", RELAY_OK + ",\"egress\":[{\"trust\":\"ca\",\"verify\":null}]}");
        nulls.put("egress[0].alpn[0]", RELAY_OK + ",\"egress\":[{\"trust\":\"ca\",\"alpn\":[null]}]}");
        nulls.put("options.maxTunnels", RELAY_OK + ",\"options\":{\"maxTunnels\":null}}");
        nulls.put("options.minDepth.egress", RELAY_OK + ",\"options\":{\"minDepth\":{\"egress\":null}}}");
        nulls.forEach((field, body) -> cases.add(Case.json("null " + field, "/relays", body, 400)));
        cases.add(Case.json("null generate.commonName", "/credentials", CREDENTIAL_OK + ",\"commonName\":null}}", 400));
        cases.add(Case.json("null certificate", "/credentials", "{\"name\":\"hostile\",\"certificate\":null}", 400));
        cases.add(Case.json("null pushed credential", "PUSH", "{\"name\":\"pushed\",\"credential\":null}", 400));

        List<String> otherCase = List.of(
                "\"ingress\":[{\"credential\":\"leaf\",\"role\":\"SERVER\"}]",
                "\"ingress\":[{\"credential\":\"leaf\",\"role\":\"Server\"}]",
                "\"egress\":[{\"trust\":\"ca\",\"verify\":\"FULL\"}]",
                "\"egress\":[{\"trust\":\"ca\",\"verify\":\" full\"}]",
                "\"egress\":[{\"trust\":\"ca\",\"profile\":\"Strict\"}]",
                "\"ingress\":[{\"credential\":\"leaf\",\"trust\":\"ca\",\"clientAuth\":\"REQUIRE\"}]",
                "\"options\":{\"halfClose\":\"Hold\"}");
        for (String body : otherCase) {
            cases.add(Case.json("enum in another case " + body, "/relays", RELAY_OK + "," + body + "}", 400));
        }
        cases.add(Case.json(
                "enum in another case: proxyProtocol V1",
                "/relays",
                "{\"name\":\"hostile\",\"target\":{\"host\":\"127.0.0.1\",\"port\":9,\"proxyProtocol\":\"V1\"}}",
                400));
        cases.add(Case.json(
                "enum in another case: mode CONNECT",
                "/relays",
                "{\"name\":\"hostile\",\"target\":{\"mode\":\"CONNECT\"}}",
                400));
        cases.add(Case.json("enum in another case: pushed role", "PUSH", LAYER_OK + ",\"role\":\"SERVER\"}", 400));

        List<String> meaningless = List.of(
                "\"ingress\":[{\"credential\":\"leaf\",\"serverName\":\"localhost\"}]",
                "\"ingress\":[{\"credential\":\"leaf\",\"verify\":\"full\"}]",
                "\"ingress\":[{\"credential\":\"leaf\",\"verify\":\"chain\"}]",
                "\"ingress\":[{\"credential\":\"leaf\",\"clientAuth\":\"require\",\"trust\":\"ca\","
                        + "\"verify\":\"full\"}]",
                "\"egress\":[{\"trust\":\"ca\",\"clientAuth\":\"none\"}]",
                "\"egress\":[{\"trust\":\"ca\",\"clientAuth\":\"require\"}]",
                "\"ingress\":[{\"credential\":\"leaf\",\"clientAuth\":\"require\"}]",
                "\"ingress\":[{\"credential\":\"leaf\",\"clientAuth\":\"optional\"}]");
        for (String body : meaningless) {
            cases.add(Case.json("meaningless for the role " + body, "/relays", RELAY_OK + "," + body + "}", 400));
        }
        cases.add(Case.json(
                "pushed server layer with a serverName", "PUSH", LAYER_OK + ",\"serverName\":\"localhost\"}", 400));

        Map<String, String> loneSurrogates = new LinkedHashMap<>();
        loneSurrogates.put("generate.commonName high", CREDENTIAL_OK + ",\"commonName\":\"\\ud800\"}}");
        loneSurrogates.put("generate.commonName low", CREDENTIAL_OK + ",\"commonName\":\"a\\udc00\"}}");
        loneSurrogates.put(
                "generate.dnsNames[0]",
                "{\"name\":\"hostile\",\"generate\":{\"issuer\":\"ca\"," + "\"dnsNames\":[\"\\ud800.example\"]}}");
        loneSurrogates.put("credential name", "{\"name\":\"x\\ud800\",\"generate\":{\"ca\":true}}");
        loneSurrogates.forEach(
                (field, body) -> cases.add(Case.json("lone surrogate in " + field, "/credentials", body, 400)));
        cases.add(Case.json(
                "lone surrogate in a relay name",
                "/relays",
                "{\"name\":\"\\udfff\",\"target\":{\"host\":\"127.0.0.1\",\"port\":9}}",
                400));
        cases.add(Case.json(
                "lone surrogate in an egress serverName",
                "/relays",
                RELAY_OK + ",\"egress\":[{\"trust\":\"ca\",\"serverName\":\"\\ud800\"}]}",
                400));
        cases.add(Case.json(
                "lone surrogate in a pushed layer name",
                "PUSH",
                "{\"name\":\"\\ud800\",\"credential\":\"leaf\"}",
                400));
        byte[] encodedSurrogate = {
            '{', '"', 'n', 'a', 'm', 'e', '"', ':', '"', (byte) 0xED, (byte) 0xA0, (byte) 0x80, '"', '}'
        };
        cases.add(new Case(
                "a surrogate encoded in UTF-8 bytes",
                "POST",
                "/credentials",
                "application/json",
                encodedSurrogate,
                400));
        byte[] truncated = {'{', '"', 'n', 'a', 'm', 'e', '"', ':', '"', (byte) 0xE2, (byte) 0x82, '"', '}'};
        cases.add(new Case("a truncated UTF-8 sequence", "POST", "/relays", "application/json", truncated, 400));
    }

    /** Coercions would turn what was sent into something else: {@code "ca": 5} into true, 2.5 into 2. */
    private static void wrongTypes(List<Case> cases) {
        List<String> notAString = List.of("1", "true", "{}", "[]", "2.5");
        for (String field : List.of("name")) {
            for (String value : notAString) {
                cases.add(Case.json(
                        field + " " + value,
                        "/relays",
                        "{\"" + field + "\":" + value + ",\"target\":{\"host\":\"127.0.0.1\",\"port\":9}}",
                        400));
            }
        }
        for (String value : List.of("2.5", "\"80\"", "\"\"", "true", "[]", "1e2", "99999999999")) {
            cases.add(Case.json(
                    "target.port " + value, "/relays", RELAY_OK.replace("\"port\":9", "\"port\":" + value) + "}", 400));
            cases.add(Case.json(
                    "listen.port " + value, "/relays", RELAY_OK + ",\"listen\":{\"port\":" + value + "}}", 400));
        }
        for (String value : List.of("1", "true", "{}", "[]")) {
            cases.add(Case.json(
                    "target.host " + value,
                    "/relays",
                    "{\"name\":\"hostile\",\"target\":{\"host\":" + value + ",\"port\":9}}",
                    400));
            cases.add(Case.json(
                    "options.idleTimeout " + value,
                    "/relays",
                    RELAY_OK + ",\"options\":{\"idleTimeout\":" + value + "}}",
                    400));
        }
        for (String value : List.of("\"1\"", "1.5", "false", "\"\"")) {
            cases.add(Case.json(
                    "options.maxTunnels " + value,
                    "/relays",
                    RELAY_OK + ",\"options\":{\"maxTunnels\":" + value + "}}",
                    400));
            cases.add(Case.json(
                    "minDepth.egress " + value,
                    "/relays",
                    RELAY_OK + ",\"options\":{\"minDepth\":{\"egress\":" + value + "}}}",
                    400));
        }
        Map<String, String> layerFields = new LinkedHashMap<>();
        layerFields.put("role", "1");
        layerFields.put("trust", "true");
        layerFields.put("serverName", "[\"a\"]");
        layerFields.put("verify", "{}");
        layerFields.put("clientAuth", "0");
        layerFields.put("protocols", "\"TLSv1.3\"");
        layerFields.put("ciphers", "{\"a\":1}");
        layerFields.put("alpn", "\"h2\"");
        layerFields.put("handshakeTimeout", "10");
        layerFields.put("profile", "false");
        layerFields.put("padding", "true");
        layerFields.forEach((field, value) -> {
            cases.add(Case.json(
                    "egress " + field + " " + value,
                    "/relays",
                    RELAY_OK + ",\"egress\":[{\"" + field + "\":" + value + "}]}",
                    400));
            cases.add(Case.json(
                    "pushed " + field + " " + value, "PUSH", LAYER_OK + ",\"" + field + "\":" + value + "}", 400));
        });
        cases.add(Case.json("protocols [1]", "/relays", RELAY_OK + ",\"egress\":[{\"protocols\":[1]}]}", 400));
        cases.add(Case.json("layer as string", "/relays", RELAY_OK + ",\"egress\":[\"h1\"]}", 400));
        cases.add(Case.json("layers as object", "/relays", RELAY_OK + ",\"egress\":{\"name\":\"h1\"}}", 400));
        for (String value : List.of("5", "\"true\"", "1.0", "\"\"")) {
            cases.add(Case.json(
                    "generate.ca " + value,
                    "/credentials",
                    "{\"name\":\"hostile\",\"generate\":{\"ca\":" + value + "}}",
                    400));
        }
        for (String value : List.of("1", "true", "{}")) {
            cases.add(Case.json(
                    "credential name " + value,
                    "/credentials",
                    "{\"name\":" + value + ",\"generate\":{\"ca\":true}}",
                    400));
            cases.add(Case.json(
                    "dnsNames " + value,
                    "/credentials",
                    "{\"name\":\"hostile\",\"generate\":{\"issuer\":\"ca\",\"dnsNames\":" + value + "}}",
                    400));
            cases.add(Case.json(
                    "certificate " + value,
                    "/credentials",
                    "{\"name\":\"hostile\",\"certificate\":" + value + "}",
                    400));
        }
    }

    /** Of two values for one key, one would silently win. */
    private static void duplicateKeys(List<Case> cases) {
        cases.add(Case.json("duplicate name", "/relays", RELAY_OK + ",\"name\":\"other\"}", 400));
        cases.add(Case.json(
                "duplicate target", "/relays", RELAY_OK + ",\"target\":{\"host\":\"127.0.0.1\",\"port\":9}}", 400));
        cases.add(Case.json(
                "duplicate port",
                "/relays",
                "{\"name\":\"hostile\",\"target\":{\"host\":\"127.0.0.1\",\"port\":9,\"port\":10}}",
                400));
        cases.add(Case.json("duplicate egress", "/relays", RELAY_OK + ",\"egress\":[],\"egress\":[{}]}", 400));
        cases.add(Case.json(
                "duplicate trust",
                "/relays",
                RELAY_OK + ",\"egress\":[{\"trust\":\"ca\",\"trust\":\"system\"}]}",
                400));
        cases.add(Case.json(
                "duplicate verify",
                "/relays",
                RELAY_OK + ",\"egress\":[{\"verify\":\"full\",\"verify\":\"none\"}]}",
                400));
        cases.add(Case.json(
                "duplicate minDepth",
                "/relays",
                RELAY_OK + ",\"options\":{\"minDepth\":{\"egress\":1,\"egress\":0}}}",
                400));
        cases.add(Case.json("duplicate credential name", "/credentials", CREDENTIAL_OK + "},\"name\":\"x\"}", 400));
        cases.add(Case.json("duplicate generate.ca", "/credentials", CREDENTIAL_OK + ",\"ca\":false}}", 400));
        cases.add(Case.json("duplicate pushed name", "PUSH", LAYER_OK + ",\"name\":\"again\"}", 400));
    }

    /** Settings that can never give a working or safe handshake, refused at create and at push. */
    private static void impossibleTlsSettings(List<Case> cases) {
        List<String> settings = List.of(
                "\"protocols\":[\"TLSv9\"]",
                "\"protocols\":[\"SSLv3\"]",
                "\"protocols\":[\"TLSv1\"]",
                "\"protocols\":[\"TLSv1.1\"]",
                "\"protocols\":[]",
                "\"protocols\":[null]",
                "\"protocols\":[\"TLSv1.3\",\"TLSv1.3\"]",
                "\"ciphers\":[\"NOPE\"]",
                "\"ciphers\":[\"TLS_RSA_WITH_AES_128_CBC_SHA\"]",
                "\"ciphers\":[\"TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256\"]",
                "\"ciphers\":[\"TLS_RSA_WITH_NULL_SHA256\"]",
                "\"ciphers\":[\"TLS_DH_anon_WITH_AES_128_GCM_SHA256\"]",
                "\"ciphers\":[\"TLS_ECDH_anon_WITH_AES_128_CBC_SHA\"]",
                "\"ciphers\":[]",
                "\"ciphers\":[null]",
                "\"protocols\":[\"TLSv1.3\"],\"ciphers\":[\"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256\"]",
                "\"protocols\":[\"TLSv1.2\"],\"ciphers\":[\"TLS_AES_128_GCM_SHA256\"]",
                "\"alpn\":[\"\"]",
                "\"alpn\":[\"h2\",\"h2\"]",
                "\"alpn\":[\"h 2\"]",
                "\"alpn\":[null]",
                "\"alpn\":[\"" + "x".repeat(256) + "\"]",
                "\"handshakeTimeout\":\"9999999999999d\"",
                "\"handshakeTimeout\":\"99999999999999999999d\"",
                "\"handshakeTimeout\":\"PT9999999999H\"",
                "\"handshakeTimeout\":\"0s\"",
                "\"handshakeTimeout\":\"-1s\"",
                "\"handshakeTimeout\":\"1ns\"",
                "\"handshakeTimeout\":\"soon\"",
                "\"serverName\":\"\"",
                "\"serverName\":\"a\\nb\"",
                "\"serverName\":\"local host\"",
                "\"serverName\":\"localhost \"",
                "\"serverName\":\"évil.example\"",
                "\"name\":\"a\\nb\"",
                "\"verify\":\"sometimes\"",
                "\"profile\":\"paranoid\"",
                "\"profile\":\"strict\",\"protocols\":[\"TLSv1.2\"]",
                "\"padding\":\"maybe\"",
                "\"padding\":\"ON\"",
                "\"padding\":\"on\",\"alpn\":[\"h2\"]");
        for (String setting : settings) {
            cases.add(Case.json(
                    "egress " + setting,
                    "/relays",
                    RELAY_OK + ",\"egress\":[{\"trust\":\"ca\"," + setting + "}]}",
                    400));
            cases.add(Case.json("pushed " + setting, "PUSH", LAYER_OK + "," + setting + "}", 400));
        }
        for (String setting : List.of("\"protocols\":[\"TLSv1\"]", "\"ciphers\":[\"NOPE\"]", "\"alpn\":[\"\"]")) {
            cases.add(Case.json(
                    "ingress " + setting,
                    "/relays",
                    RELAY_OK + ",\"ingress\":[{\"credential\":\"leaf\"," + setting + "}]}",
                    400));
        }
        cases.add(Case.json(
                "duplicate egress layer names",
                "/relays",
                RELAY_OK + ",\"egress\":[{\"name\":\"x\"},{\"name\":\"x\"}]}",
                400));
        cases.add(Case.json(
                "layer named like another's default", "/relays", RELAY_OK + ",\"egress\":[{\"name\":\"1\"},{}]}", 400));
        cases.add(Case.json(
                "duplicate ingress layer names",
                "/relays",
                RELAY_OK
                        + ",\"ingress\":[{\"name\":\"x\",\"credential\":\"leaf\"},{\"name\":\"x\",\"credential\":\"leaf\"}]}",
                400));
    }

    /** Hosts with spaces or control characters, durations nobody means, negative or huge numbers. */
    private static void absurdValues(List<Case> cases) {
        for (String host :
                List.of("127.0.0.1 ", " 127.0.0.1", "", "127.0.0.1\\u0000", "a\\tb", "http://x", "[::1]", "x/y")) {
            cases.add(Case.json(
                    "target host '" + host + "'",
                    "/relays",
                    "{\"name\":\"hostile\",\"target\":{\"host\":\"" + host + "\",\"port\":9}}",
                    400));
            cases.add(Case.json(
                    "listen host '" + host + "'",
                    "/relays",
                    RELAY_OK + ",\"listen\":{\"host\":\"" + host + "\"}}",
                    400));
        }
        for (String option : List.of(
                "\"connectTimeout\":\"9999999999999d\"",
                "\"idleTimeout\":\"99999d\"",
                "\"handshakeTimeout\":\"1h\"",
                "\"connectTimeout\":\"0ms\"",
                "\"idleTimeout\":\"PT-5M\"",
                "\"maxTunnels\":0",
                "\"maxTunnels\":-1",
                "\"maxTunnels\":2147483647",
                "\"minDepth\":{\"egress\":-1}",
                "\"minDepth\":{\"ingress\":5}")) {
            cases.add(Case.json("option " + option, "/relays", RELAY_OK + ",\"options\":{" + option + "}}", 0));
        }
        for (String port : List.of("-1", "65536", "0")) {
            cases.add(Case.json(
                    "target port " + port, "/relays", RELAY_OK.replace("\"port\":9", "\"port\":" + port) + "}", 400));
        }
        cases.add(Case.json(
                "validity absurd",
                "/credentials",
                "{\"name\":\"hostile\",\"generate\":{\"ca\":true,\"validity\":\"P99999999999Y\"}}",
                0));
        cases.add(Case.json(
                "validity not a period",
                "/credentials",
                "{\"name\":\"hostile\",\"generate\":{\"ca\":true,\"validity\":\"forever\"}}",
                400));
        cases.add(Case.json(
                "certificate not PEM",
                "/credentials",
                "{\"name\":\"hostile\",\"certificate\":\"-----BEGIN CERTIFICATE-----\\nAAAA\\n-----END CERTIFICATE-----\"}",
                400));
        cases.add(Case.json("mode unknown", "/relays", "{\"name\":\"hostile\",\"target\":{\"mode\":\"tor\"}}", 400));
        cases.add(Case.json(
                "layer connect without a port",
                "/relays",
                RELAY_OK + ",\"egress\":[{\"connect\":\"example.com\"}]}",
                400));
        cases.add(Case.json(
                "layer connect outside the target policy",
                "/relays",
                RELAY_OK + ",\"egress\":[{\"connect\":\"example.com:443\"}]}",
                403));
        cases.add(Case.json(
                "via proxy outside the target policy",
                "/relays",
                "{\"name\":\"hostile\",\"target\":{\"host\":\"127.0.0.1\",\"port\":1,"
                        + "\"via\":{\"host\":\"169.254.169.254\",\"port\":80}}}",
                403));
    }

    /** Text that is not one JSON object of the expected shape, or not UTF-8 JSON at all. */
    private static void malformedJson(List<Case> cases) {
        List<String> texts = List.of(
                "",
                " ",
                "{",
                "}",
                "[]",
                "null",
                "123",
                "\"relay\"",
                "{\"name\":\"hostile\"",
                "{\"name\":\"hostile\",}",
                "{name:\"hostile\"}",
                "{'name':'hostile'}",
                "{\"name\":\"hostile\"/*c*/}",
                "{\"name\":NaN}",
                "{\"name\":\"hostile\"} {}",
                "{\"name\":\"hostile\"} x",
                "{\"name\":\"\\x41\"}",
                "{\"name\":\"\\uD800\"}",
                "[".repeat(5000) + "]".repeat(5000),
                "{\"a\":".repeat(2000) + "1" + "}".repeat(2000));
        for (String text : texts) {
            String label = text.length() > 40 ? text.substring(0, 40) + "…" : text;
            cases.add(Case.json("relay body " + label, "/relays", text, 400));
            cases.add(Case.json("credential body " + label, "/credentials", text, 400));
        }
        cases.add(new Case(
                "invalid UTF-8",
                "POST",
                "/relays",
                "application/json",
                new byte[] {'{', '"', 'n', 'a', 'm', 'e', '"', ':', '"', (byte) 0xC3, (byte) 0x28, '"', '}'},
                400));
        cases.add(new Case(
                "UTF-16 without target",
                "POST",
                "/relays",
                "application/json",
                "{\"name\":\"hostile\",\"egres\":[]}".getBytes(StandardCharsets.UTF_16),
                400));
        cases.add(new Case(
                "latin-1 declared, unknown field",
                "POST",
                "/relays",
                "application/json;charset=ISO-8859-1",
                (RELAY_OK + ",\"n\u00e4me\":1}").getBytes(StandardCharsets.ISO_8859_1),
                400));
        cases.add(new Case(
                "unknown charset",
                "POST",
                "/relays",
                "application/json;charset=klingon",
                (RELAY_OK + "}").getBytes(StandardCharsets.UTF_8),
                0));
        byte[] big = ("{\"name\":\"" + "a".repeat(200_000) + "\"}").getBytes(StandardCharsets.UTF_8);
        cases.add(new Case("200 kB relay body", "POST", "/relays", "application/json", big, 413));
        cases.add(new Case("200 kB credential body", "POST", "/credentials", "application/json", big, 413));
    }

    /** Bodies in any other media type than JSON, and no body at all. */
    private static void contentTypes(List<Case> cases) {
        byte[] body = (RELAY_OK + "}").getBytes(StandardCharsets.UTF_8);
        for (String type : List.of(
                "text/plain",
                "application/xml",
                "application/x-www-form-urlencoded",
                "multipart/form-data; boundary=x",
                "application/yaml",
                "application/jsonx",
                "application/octet-stream")) {
            cases.add(new Case("relay as " + type, "POST", "/relays", type, body, 415));
            cases.add(new Case("credential as " + type, "POST", "/credentials", type, body, 415));
        }
        cases.add(new Case("no content type", "POST", "/relays", null, body, 415));
        cases.add(new Case("no body", "POST", "/relays", "application/json", new byte[0], 400));
    }

    /** Paths, methods and headers the servlet container itself refuses, and unknown places. */
    private static void pathsAndMethods(List<Case> cases) {
        cases.add(new Case("GET /error", "GET", "/error", null, new byte[0], 404));
        // Answered at once and closed: Tomcat does not wait for (swallow) a body that is never sent.
        cases.add(new Case(
                "RAW 100 MB announced, nothing sent, no token",
                "RAW",
                "POST /relays HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000000\r\n\r\n",
                null,
                new byte[0],
                401));
        cases.add(new Case(
                "RAW 100 MB announced, nothing sent",
                "RAW",
                "POST /relays HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %TOKEN%\r\nContent-Type: application/json"
                        + "\r\nContent-Length: 100000000\r\n\r\n",
                null,
                new byte[0],
                413));
        for (String path : List.of(
                "/relays/%2F",
                "/relays/a%2Fb/tunnels",
                "/relays/%00",
                "/credentials/%00/certificate",
                "/relays/%5C",
                "/relays/%ZZ",
                "/relays/%",
                "/relays/../credentials",
                "/relays/%2e%2e/credentials",
                "/relays/;x=1",
                "/relays/" + "a".repeat(20_000),
                "/nope",
                "/relays/unknown",
                "/relays/unknown/tunnels",
                "/relays/base/tunnels/unknown",
                "/credentials/unknown",
                "/credentials/unknown/certificate")) {
            String label = path.length() > 40 ? path.substring(0, 40) + "…" : path;
            cases.add(new Case("GET " + label, "GET", path, null, new byte[0], 0));
        }
        cases.add(new Case(
                "POST to a side that is none",
                "POST",
                "/relays/base/tunnels/x/sideways/layers",
                "application/json",
                "{}".getBytes(StandardCharsets.UTF_8),
                404));
        for (String method : List.of("PATCH", "PUT", "TRACE", "CONNECT", "PROPFIND", "BREW")) {
            cases.add(new Case(method + " /relays", method, "/relays", null, new byte[0], 0));
        }
        cases.add(new Case("DELETE /relays", "DELETE", "/relays", null, new byte[0], 405));
        cases.add(new Case(
                "POST /relays/base",
                "POST",
                "/relays/base",
                "application/json",
                "{}".getBytes(StandardCharsets.UTF_8),
                405));
        cases.add(new Case(
                "RAW overlong header",
                "RAW",
                "GET /relays HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %TOKEN%\r\nX-Long: " + "a".repeat(20_000)
                        + "\r\nConnection: close\r\n\r\n",
                null,
                new byte[0],
                0));
        cases.add(new Case(
                "RAW many headers",
                "RAW",
                "GET /relays HTTP/1.1\r\nHost: x\r\n" + "X-H: v\r\n".repeat(500) + "Connection: close\r\n\r\n",
                null,
                new byte[0],
                0));
        cases.add(new Case(
                "RAW NUL in request line",
                "RAW",
                "GET /relays\u0000 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                null,
                new byte[0],
                400));
        cases.add(new Case(
                "RAW space in path",
                "RAW",
                "GET /rel ays HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                null,
                new byte[0],
                400));
        cases.add(new Case(
                "RAW no Host", "RAW", "GET /relays HTTP/1.1\r\nConnection: close\r\n\r\n", null, new byte[0], 400));
        cases.add(new Case(
                "RAW two Hosts",
                "RAW",
                "GET /relays HTTP/1.1\r\nHost: a\r\nHost: b\r\nConnection: close\r\n\r\n",
                null,
                new byte[0],
                400));
        cases.add(new Case(
                "RAW bad header name",
                "RAW",
                "GET /relays HTTP/1.1\r\nHost: x\r\nBad Header: v\r\nConnection: close\r\n\r\n",
                null,
                new byte[0],
                400));
        cases.add(new Case(
                "RAW CONNECT authority",
                "RAW",
                "CONNECT 127.0.0.1:22 HTTP/1.1\r\nHost: 127.0.0.1:22\r\nConnection: close\r\n\r\n",
                null,
                new byte[0],
                0));
        cases.add(new Case(
                "RAW absolute URI elsewhere",
                "RAW",
                "GET http://169.254.169.254/latest HTTP/1.1\r\nHost: 169.254.169.254\r\nAuthorization: Bearer %TOKEN%\r\nConnection: close\r\n\r\n",
                null,
                new byte[0],
                0));
        cases.add(new Case(
                "RAW HTTP/9.9",
                "RAW",
                "GET /relays HTTP/9.9\r\nHost: x\r\nConnection: close\r\n\r\n",
                null,
                new byte[0],
                505));
        cases.add(new Case(
                "RAW negative length",
                "RAW",
                "POST /relays HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %TOKEN%\r\nContent-Type: application/json\r\nContent-Length: -5\r\nConnection: close\r\n\r\n{}",
                null,
                new byte[0],
                400));
        cases.add(new Case(
                "RAW length not a number",
                "RAW",
                "POST /relays HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %TOKEN%\r\nContent-Type: application/json\r\nContent-Length: ten\r\nConnection: close\r\n\r\n{}",
                null,
                new byte[0],
                400));
        cases.add(new Case(
                "RAW two lengths",
                "RAW",
                "POST /relays HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %TOKEN%\r\nContent-Type: application/json\r\nContent-Length: 2\r\nContent-Length: 3\r\nConnection: close\r\n\r\n{}x",
                null,
                new byte[0],
                400));
        cases.add(new Case(
                "RAW length and chunked",
                "RAW",
                "POST /relays HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %TOKEN%\r\nContent-Type: application/json\r\nContent-Length: 7\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
                null,
                new byte[0],
                0));
        cases.add(new Case(
                "RAW bad chunk size",
                "RAW",
                "POST /relays HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %TOKEN%\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\nzz\r\n{}\r\n0\r\n\r\n",
                null,
                new byte[0],
                400));
        cases.add(new Case(
                "RAW unknown transfer coding",
                "RAW",
                "POST /relays HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %TOKEN%\r\nContent-Type: application/json\r\nTransfer-Encoding: gzip\r\nConnection: close\r\n\r\n{}",
                null,
                new byte[0],
                501));
        cases.add(new Case(
                "RAW gzip-encoded garbage",
                "RAW",
                "POST /relays HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %TOKEN%\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\nContent-Length: 4\r\nConnection: close\r\n\r\n\u001f\u008b\u0008\u0000",
                null,
                new byte[0],
                400));
        cases.add(new Case("RAW chunked 200 kB", "CHUNKED", "/credentials", "application/json", new byte[0], 413));
        cases.add(new Case("no token", "NOAUTH", "/relays", null, new byte[0], 401));
        cases.add(new Case(
                "no token, POST",
                "NOAUTH-POST",
                "/relays",
                "application/json",
                (RELAY_OK + "}").getBytes(StandardCharsets.UTF_8),
                401));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("bodies")
    void malformedOrImpossibleBodiesAreProblemsThatCreateNothing(Case request) {
        assertProblem(request, send(request));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("transport")
    void oddPathsMethodsHeadersAndFramingAreProblemsThatCreateNothing(Case request) {
        assertProblem(request, send(request));
    }

    @ParameterizedTest(name = "management {0}")
    @CsvSource(delimiter = '|', textBlock = """
            GET /actuator/onion/unknown-relay                        | 404
            GET /actuator/unknown                                    | 404
            GET /actuator/health/%2F                                 | 400
            GET /actuator/health/%00                                 | 400
            TRACE /actuator/health                                   | 405
            CONNECT /actuator/health                                 | 405
            POST /actuator/health                                    | 405
            GET /error                                               | 404
            """)
    void theManagementPortAnswersErrorsInTheSameScheme(String request, int status) {
        String[] parts = request.split(" ");
        RawHttp.Response response = RawHttp.exchange(
                service.managementPort(),
                (parts[0] + " " + parts[1] + " HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                        .getBytes(StandardCharsets.ISO_8859_1));
        assertProblem(
                new Case(request, parts[0], parts[1], null, new byte[0], status),
                new Answer(response.status(), response.contentType(), response.body()));
    }

    @Test
    void theTablesHoldAtLeast150HostileRequests() {
        assertThat(Stream.concat(bodies(), transport()).count()).isGreaterThanOrEqualTo(150);
    }

    @Test
    void aThirtyMegabyteChunkedBodyIsCutAtTheLimitAndCreatesNothing() {
        RawHttp.Response response = RawHttp.chunked(
                service.apiPort(),
                "POST /credentials HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + service.adminToken()
                        + "\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n",
                "{\"name\":\"chunked\",",
                30L * 1024 * 1024,
                "\"generate\":{\"ca\":true}}");
        assertThat(response.status()).as(response.toString()).isEqualTo(413);
        assertThat(response.contentType()).startsWith("application/problem+json");
        assertThat(snapshot()).isEqualTo(before);
    }

    /**
     * The token filter, the size limit, the servlet container and the controllers each answer some errors; a client
     * reads them all the same way: the same fields (the request's path as {@code instance}), and a type that names the
     * kind the title gives.
     */
    @Test
    void everyWriterOfProblemsGivesTheSameFieldsAndATypeNamedAfterTheTitle() {
        String token = "Authorization: Bearer " + service.adminToken() + "\r\n";
        Map<String, String> requests = new LinkedHashMap<>();
        requests.put("401 from the token filter", "GET /relays HTTP/1.1\r\nHost: x\r\n");
        requests.put(
                "413 from the size limit",
                "POST /credentials HTTP/1.1\r\nHost: x\r\n" + token
                        + "Content-Type: application/json\r\nContent-Length: 200000\r\n");
        requests.put("400 from the servlet container", "GET /relays/a%2Fb HTTP/1.1\r\nHost: x\r\n" + token);
        requests.put("409 from a controller", "DELETE " + pushPath + "/innermost HTTP/1.1\r\nHost: x\r\n" + token);
        requests.forEach((what, head) -> {
            String body = head.contains("Content-Length") ? " ".repeat(200_000) : "";
            RawHttp.Response response = RawHttp.exchange(
                    service.apiPort(),
                    (head + "Connection: close\r\n\r\n" + body).getBytes(StandardCharsets.ISO_8859_1));
            assertThat(Integer.toString(response.status())).as(what).isEqualTo(what.substring(0, 3));
            assertThat(response.contentType()).as(what).startsWith("application/problem+json");
            JsonNode problem = ApiClient.JSON.readTree(response.body());
            Set<String> fields = new TreeSet<>(problem.propertyNames());
            fields.remove("errors"); // present only when fields of the request are at fault
            assertThat(fields).as(what).containsExactly("detail", "instance", "status", "title", "type");
            assertThat(problem.get("instance").asString()).as(what).isEqualTo(head.split(" ")[1]);
            assertThat(problem.get("type").asString())
                    .as(what)
                    .isEqualTo(ProblemTypes.forTitle(problem.get("title").asString())
                            .toString());
        });
        assertThat(snapshot()).isEqualTo(before);
    }

    private static void assertProblem(Case request, Answer answer) {
        // Two answers are 5xx by the HTTP specification itself: an unknown HTTP version (505) and an unknown
        // transfer coding (501). Those cases name their status; everything else is the client's fault, a 4xx.
        if (request.status() != 0) {
            assertThat(answer.status()).as(request + ": " + answer).isEqualTo(request.status());
        } else {
            assertThat(answer.status()).as(request + ": " + answer).isBetween(400, 499);
        }
        assertThat(answer.contentType()).as(request + ": " + answer).startsWith("application/problem+json");
        JsonNode problem = ApiClient.JSON.readTree(answer.body());
        assertThat(problem.get("status").asInt()).as(request + ": " + answer).isEqualTo(answer.status());
        assertThat(problem.get("type").asString()).as(request + ": " + answer).startsWith("urn:onion-relay:problem:");
        assertThat(problem.get("title").asString()).isNotBlank();
        assertThat(problem.get("detail").asString()).isNotBlank();
        assertThat(snapshot()).as("nothing created or changed by " + request).isEqualTo(before);
    }

    /** The answer to one case, whichever way it was sent. */
    record Answer(int status, String contentType, String body) {}

    private static final HttpClient HTTP =
            HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    private static Answer send(Case request) {
        int port = service.apiPort();
        String token = service.adminToken();
        switch (request.method()) {
            case "RAW", "CONNECT" -> {
                String raw = request.method().equals("RAW")
                        ? request.path().replace("%TOKEN%", token)
                        : "CONNECT " + request.path() + " HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + token
                                + "\r\nConnection: close\r\n\r\n";
                RawHttp.Response response = RawHttp.exchange(port, raw.getBytes(StandardCharsets.ISO_8859_1));
                return new Answer(response.status(), response.contentType(), response.body());
            }
            case "CHUNKED" -> {
                RawHttp.Response response = RawHttp.chunked(
                        port,
                        "POST " + request.path() + " HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + token
                                + "\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
                                + "Connection: close\r\n\r\n",
                        "{\"name\":\"chunked\",",
                        200_000,
                        "\"generate\":{\"ca\":true}}");
                return new Answer(response.status(), response.contentType(), response.body());
            }
            default -> {
                // HttpClient refuses some of these paths as URIs: those go raw.
                String method = request.method();
                String path = request.path().equals("PUSH") ? pushPath : request.path();
                boolean authorized = !method.startsWith("NOAUTH");
                if (method.equals("PUSH") || method.equals("NOAUTH-POST")) {
                    method = "POST";
                } else if (method.equals("NOAUTH")) {
                    method = "GET";
                }
                if (request.method().equals("PUSH")) {
                    path = pushPath;
                }
                URI uri;
                try {
                    uri = URI.create("http://127.0.0.1:" + port + path);
                } catch (IllegalArgumentException e) {
                    return raw(port, token, method, path, request);
                }
                HttpRequest.Builder builder = HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(20));
                if (authorized) {
                    builder.header("Authorization", "Bearer " + token);
                }
                if (request.contentType() != null) {
                    builder.header("Content-Type", request.contentType());
                }
                builder.method(method, HttpRequest.BodyPublishers.ofByteArray(request.body()));
                try {
                    HttpResponse<String> response = HTTP.send(builder.build(), HttpResponse.BodyHandlers.ofString());
                    return new Answer(
                            response.statusCode(),
                            response.headers().firstValue("Content-Type").orElse(""),
                            response.body());
                } catch (IllegalArgumentException e) {
                    return raw(port, token, method, path, request);
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new IllegalStateException(e);
                }
            }
        }
    }

    private static Answer raw(int port, String token, String method, String path, Case request) {
        StringBuilder head = new StringBuilder(method + " " + path + " HTTP/1.1\r\nHost: x\r\n");
        head.append("Authorization: Bearer ").append(token).append("\r\n");
        if (request.contentType() != null) {
            head.append("Content-Type: ").append(request.contentType()).append("\r\n");
        }
        head.append("Content-Length: ").append(request.body().length).append("\r\nConnection: close\r\n\r\n");
        byte[] headBytes = head.toString().getBytes(StandardCharsets.ISO_8859_1);
        byte[] all = new byte[headBytes.length + request.body().length];
        System.arraycopy(headBytes, 0, all, 0, headBytes.length);
        System.arraycopy(request.body(), 0, all, headBytes.length, request.body().length);
        RawHttp.Response response = RawHttp.exchange(port, all);
        return new Answer(response.status(), response.contentType(), response.body());
    }
}
