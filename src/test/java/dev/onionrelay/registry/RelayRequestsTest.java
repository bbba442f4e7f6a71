package dev.onionrelay.registry;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import dev.onionrelay.layer.ClientAuthMode;
import dev.onionrelay.layer.LayerSpec;
import dev.onionrelay.layer.Role;
import dev.onionrelay.layer.Side;
import dev.onionrelay.layer.TlsProfile;
import dev.onionrelay.layer.Verification;
import dev.onionrelay.relay.Endpoint;
import dev.onionrelay.relay.HalfClose;
import dev.onionrelay.relay.RelaySpec;
import dev.onionrelay.relay.target.TargetSpec;
import dev.onionrelay.relay.upstream.ProxyProtocol;
import dev.onionrelay.relay.upstream.Upstream;
import java.time.Duration;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import tools.jackson.databind.json.JsonMapper;

/** The request mapping: what a request that leaves fields out means, and which fields a bad one is refused for. */
class RelayRequestsTest {

    private static final JsonMapper JSON = JsonMapper.builder().build();
    private static final RelayRequests.Defaults DEFAULTS = new RelayRequests.Defaults(
            100, Duration.ofSeconds(10), Duration.ofSeconds(5), Duration.ofMinutes(5), TlsProfile.DEFAULT);

    private static RelaySpec spec(String json, RelayRequests.Defaults defaults) {
        return RelayRequests.toSpec(JSON.readValue(json, RelayRequest.class), defaults);
    }

    @Test
    void aMinimalRequestGetsTheDocumentedDefaults() {
        RelaySpec spec = spec("""
                {"name":"r","target":{"host":"backend.internal","port":443},
                 "ingress":[{"credential":"hop"}],"egress":[{"trust":"ca"},{"trust":"ca"}]}""", DEFAULTS);
        assertThat(spec.listen().host()).isEqualTo("127.0.0.1");
        assertThat(spec.listen().port()).isZero();
        assertThat(spec.options().maxTunnels()).isEqualTo(100);
        assertThat(spec.options().handshakeTimeout()).isEqualTo(Duration.ofSeconds(10));
        assertThat(spec.options().connectTimeout()).isEqualTo(Duration.ofSeconds(5));
        assertThat(spec.options().idleTimeout()).isEqualTo(Duration.ofMinutes(5));
        assertThat(spec.options().minIngressDepth())
                .as("minimum depth: the configured depth")
                .isEqualTo(1);
        assertThat(spec.options().minEgressDepth()).isEqualTo(2);
        assertThat(spec.options().halfClose()).isEqualTo(HalfClose.PROPAGATE);

        LayerSpec in = spec.ingress().get(0);
        assertThat(in.name()).isEqualTo("0");
        assertThat(in.role()).isEqualTo(Role.SERVER);
        assertThat(in.verify())
                .as("a server without client auth checks no peer")
                .isEqualTo(Verification.NONE);
        assertThat(in.trust()).isEqualTo(LayerSpec.SYSTEM_TRUST);
        assertThat(in.protocols()).containsExactly("TLSv1.3", "TLSv1.2");

        LayerSpec outer = spec.egress().get(0);
        LayerSpec inner = spec.egress().get(1);
        assertThat(outer.role()).isEqualTo(Role.CLIENT);
        assertThat(outer.verify()).isEqualTo(Verification.FULL);
        assertThat(outer.serverName())
                .as("the outermost egress layer verifies the target host")
                .isEqualTo("backend.internal");
        assertThat(inner.serverName())
                .as("inner layers name no host unless told")
                .isNull();
        assertThat(inner.name()).isEqualTo("1");
    }

    @Test
    void aProxyChainIsMappedWithTheHostBehindEachHopAsTheNextLayersServerName() {
        RelaySpec spec = spec("""
                {"name":"r","target":{"host":"proxy.internal","port":443,"via":{"host":"squid.internal","port":3128},
                  "proxyProtocol":"v2"},
                 "egress":[{"trust":"ca","connect":"exit.internal:8443"},{"trust":"ca","connect":"[::1]:9443"},
                  {"trust":"ca","serverName":"named"}]}""", DEFAULTS);
        assertThat(spec.upstream().via()).isEqualTo(new Endpoint("squid.internal", 3128));
        assertThat(spec.upstream().proxyProtocol()).isEqualTo(ProxyProtocol.V2);
        assertThat(spec.egress())
                .extracting(LayerSpec::connect)
                .containsExactly("exit.internal:8443", "[::1]:9443", null);
        assertThat(spec.egress())
                .extracting(LayerSpec::serverName)
                .as("the first layer verifies the target; a layer behind a hop the host asked for, unless told")
                .containsExactly("proxy.internal", "exit.internal", "named");
        assertThat(spec("{\"name\":\"r\",\"target\":{\"host\":\"h\",\"port\":1}}", DEFAULTS)
                        .upstream())
                .as("off by default")
                .isEqualTo(Upstream.DIRECT);
    }

    @Test
    void theConfiguredProfileAppliesToLayersThatNameNoneAndALayerMayNameItsOwn() {
        RelayRequests.Defaults strict = new RelayRequests.Defaults(
                100, Duration.ofSeconds(10), Duration.ofSeconds(5), Duration.ofMinutes(5), TlsProfile.STRICT);
        RelaySpec spec = spec("""
                {"name":"r","target":{"host":"127.0.0.1","port":1},
                 "egress":[{"trust":"ca"},{"trust":"ca","profile":"default"}]}""", strict);
        assertThat(spec.egress().get(0).ciphers()).isEqualTo(TlsProfile.STRICT_CIPHERS);
        assertThat(spec.egress().get(0).protocols()).containsExactly("TLSv1.3");
        assertThat(spec.egress().get(1).ciphers()).isEmpty();
        assertThat(spec.egress().get(1).protocols()).containsExactly("TLSv1.3", "TLSv1.2");
    }

    @Test
    void clientCertificatesCheckedAgainstPublicCasWhenTheSystemTrustIsWrittenOut() {
        LayerSpec layer = spec("""
                        {"name":"r","target":{"host":"127.0.0.1","port":1},
                         "ingress":[{"credential":"hop","clientAuth":"optional","trust":"system"}]}""", DEFAULTS).ingress().get(0);
        assertThat(layer.trust()).isEqualTo("system");
        assertThat(layer.clientAuth()).isEqualTo(ClientAuthMode.OPTIONAL);
    }

    @Test
    void aServerLayerThatAsksForClientCertificatesVerifiesTheirChain() {
        LayerSpec layer = spec("""
                        {"name":"r","target":{"host":"127.0.0.1","port":1},
                         "ingress":[{"credential":"hop","clientAuth":"require","trust":"ca"}]}""", DEFAULTS).ingress().get(0);
        assertThat(layer.clientAuth()).isEqualTo(ClientAuthMode.REQUIRE);
        assertThat(layer.verify()).isEqualTo(Verification.CHAIN);
    }

    static Stream<Arguments> targetForms() {
        return Stream.of(
                Arguments.of("{\"host\":\"backend\",\"port\":443}", TargetSpec.fixed(new Endpoint("backend", 443))),
                Arguments.of(
                        "{\"mode\":\"fixed\",\"host\":\"backend\",\"port\":443}",
                        TargetSpec.fixed(new Endpoint("backend", 443))),
                Arguments.of("{\"mode\":\"connect\"}", TargetSpec.proxy(TargetSpec.Mode.CONNECT)),
                Arguments.of("{\"mode\":\"socks5\"}", TargetSpec.proxy(TargetSpec.Mode.SOCKS5)),
                Arguments.of(
                        "{\"targets\":[{\"host\":\"a\",\"port\":1},{\"host\":\"b\",\"port\":2}]}",
                        new TargetSpec(
                                TargetSpec.Mode.FIXED,
                                List.of(new Endpoint("a", 1), new Endpoint("b", 2)),
                                TargetSpec.Balance.FAILOVER)),
                Arguments.of(
                        "{\"targets\":[{\"host\":\"a\",\"port\":1}],\"balance\":\"round-robin\"}",
                        new TargetSpec(
                                TargetSpec.Mode.FIXED, List.of(new Endpoint("a", 1)), TargetSpec.Balance.ROUND_ROBIN)));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("targetForms")
    void eachTargetFormMapsToItsTarget(String target, TargetSpec expected) {
        assertThat(spec("{\"name\":\"r\",\"target\":" + target + "}", DEFAULTS).target())
                .isEqualTo(expected);
    }

    static Stream<Arguments> refused() {
        String target = "\"target\":{\"host\":\"127.0.0.1\",\"port\":1}";
        return Stream.of(
                Arguments.of("no name, no target", "{}", List.of("name", "target")),
                Arguments.of(
                        "a port out of range",
                        "{\"name\":\"r\",\"listen\":{\"port\":70000}," + target + "}",
                        List.of("listen.port")),
                Arguments.of(
                        "a target without host and port",
                        "{\"name\":\"r\",\"target\":{}}",
                        List.of("target.host", "target.port")),
                Arguments.of(
                        "an unknown target mode",
                        "{\"name\":\"r\",\"target\":{\"mode\":\"tor\"}}",
                        List.of("target.mode")),
                Arguments.of(
                        "a proxy mode with a fixed host, port and balance",
                        "{\"name\":\"r\",\"target\":{\"mode\":\"socks5\",\"host\":\"a\",\"port\":1,"
                                + "\"balance\":\"failover\"}}",
                        List.of("target.host", "target.port", "target.balance")),
                Arguments.of(
                        "a proxy mode whose first egress layer verifies a host name it is not given",
                        "{\"name\":\"r\",\"target\":{\"mode\":\"connect\"},\"egress\":[{\"trust\":\"ca\"}]}",
                        List.of("egress[0].serverName")),
                Arguments.of(
                        "no targets in the list",
                        "{\"name\":\"r\",\"target\":{\"targets\":[]}}",
                        List.of("target.targets")),
                Arguments.of(
                        "a list of targets beside a host",
                        "{\"name\":\"r\",\"target\":{\"host\":\"a\",\"targets\":[{\"host\":\"b\",\"port\":2}]}}",
                        List.of("target.targets")),
                Arguments.of(
                        "a listed target without host and one without port",
                        "{\"name\":\"r\",\"target\":{\"targets\":[{\"port\":1},{\"host\":\"b\"}]}}",
                        List.of("target.targets[0].host", "target.targets[1].port")),
                Arguments.of(
                        "an unknown balance",
                        "{\"name\":\"r\",\"target\":{\"targets\":[{\"host\":\"b\",\"port\":2}],"
                                + "\"balance\":\"random\"}}",
                        List.of("target.balance")),
                Arguments.of(
                        "durations that are not durations or not positive",
                        "{\"name\":\"r\"," + target + ",\"options\":{\"handshakeTimeout\":\"soon\","
                                + "\"connectTimeout\":\"0s\",\"idleTimeout\":\"-1s\"}}",
                        List.of("options.handshakeTimeout", "options.connectTimeout", "options.idleTimeout")),
                Arguments.of(
                        "an unknown half-close mode and no tunnels",
                        "{\"name\":\"r\"," + target + ",\"options\":{\"halfClose\":\"maybe\",\"maxTunnels\":0}}",
                        List.of("options.halfClose", "options.maxTunnels")),
                Arguments.of(
                        "a server layer without identity",
                        "{\"name\":\"r\"," + target + ",\"ingress\":[{}]}",
                        List.of("ingress[0].credential")),
                Arguments.of(
                        "a client layer asking for client certificates",
                        "{\"name\":\"r\"," + target + ",\"egress\":[{\"clientAuth\":\"require\"}]}",
                        List.of("egress[0].clientAuth")),
                Arguments.of(
                        "a client layer saying clientAuth none",
                        "{\"name\":\"r\"," + target + ",\"egress\":[{\"clientAuth\":\"none\"}]}",
                        List.of("egress[0].clientAuth")),
                Arguments.of(
                        "a server layer with a serverName and verify full",
                        "{\"name\":\"r\"," + target + ",\"ingress\":[{\"credential\":\"hop\","
                                + "\"serverName\":\"localhost\",\"verify\":\"full\"}]}",
                        List.of("ingress[0].serverName", "ingress[0].verify")),
                Arguments.of(
                        "a server layer verifying without asking for certificates",
                        "{\"name\":\"r\"," + target + ",\"ingress\":[{\"credential\":\"hop\","
                                + "\"verify\":\"chain\"}]}",
                        List.of("ingress[0].verify")),
                Arguments.of(
                        "client certificates required with the default trust",
                        "{\"name\":\"r\"," + target + ",\"ingress\":[{\"credential\":\"hop\","
                                + "\"clientAuth\":\"require\"},{\"credential\":\"hop\","
                                + "\"clientAuth\":\"optional\"}]}",
                        List.of("ingress[0].trust", "ingress[1].trust")),
                Arguments.of(
                        "enum values in another case or with spaces",
                        "{\"name\":\"r\"," + target + ",\"ingress\":[{\"role\":\"SERVER\",\"credential\":\"hop\","
                                + "\"clientAuth\":\"Require\",\"trust\":\"ca\"}],\"egress\":[{\"verify\":\" full\","
                                + "\"profile\":\"Strict\"}],\"options\":{\"halfClose\":\"HOLD\"}}",
                        List.of(
                                "ingress[0].role",
                                "ingress[0].clientAuth",
                                "egress[0].verify",
                                "egress[0].profile",
                                "options.halfClose")),
                Arguments.of(
                        "a proxy protocol and a target mode in capitals",
                        "{\"name\":\"r\",\"target\":{\"host\":\"a\",\"port\":1,\"proxyProtocol\":\"V1\"}}",
                        List.of("target.proxyProtocol")),
                Arguments.of(
                        "unknown enum values",
                        "{\"name\":\"r\"," + target + ",\"egress\":[{\"role\":\"x\",\"verify\":\"y\"}]}",
                        List.of("egress[0].role", "egress[0].verify")),
                Arguments.of(
                        "an unknown profile and a strict layer widened",
                        "{\"name\":\"r\"," + target + ",\"egress\":[{\"profile\":\"lax\"},"
                                + "{\"profile\":\"strict\",\"protocols\":[\"TLSv1.2\"]}]}",
                        List.of("egress[0].profile", "egress[1].protocols")),
                Arguments.of(
                        "CONNECT through a hop that is not host:port",
                        "{\"name\":\"r\"," + target + ",\"egress\":[{\"connect\":\"x\"},{\"connect\":\"x:0\"},"
                                + "{\"connect\":\"::1:80\"},{\"connect\":\"x:http\"},{\"connect\":\"a b:80\"}]}",
                        List.of(
                                "egress[0].connect",
                                "egress[1].connect",
                                "egress[2].connect",
                                "egress[3].connect",
                                "egress[4].connect")),
                Arguments.of(
                        "CONNECT asked by an ingress layer",
                        "{\"name\":\"r\"," + target + ",\"ingress\":[{\"credential\":\"c\",\"connect\":\"x:1\"}]}",
                        List.of("ingress[0].connect")),
                Arguments.of(
                        "a via proxy without host and port, an unknown PROXY protocol version",
                        "{\"name\":\"r\",\"target\":{\"host\":\"127.0.0.1\",\"port\":1,\"via\":{},"
                                + "\"proxyProtocol\":\"v3\"}}",
                        List.of("target.via.host", "target.via.port", "target.proxyProtocol")),
                Arguments.of(
                        "a via proxy that is not a host",
                        "{\"name\":\"r\",\"target\":{\"host\":\"127.0.0.1\",\"port\":1,"
                                + "\"via\":{\"host\":\"a/b\",\"port\":3128}}}",
                        List.of("target.via.host")),
                Arguments.of("a null layer", "{\"name\":\"r\"," + target + ",\"egress\":[null]}", List.of("egress[0]")),
                Arguments.of(
                        "an empty allow, malformed allow entries, allow on a server layer that asks no certificate",
                        "{\"name\":\"r\"," + target + ",\"egress\":[{\"allow\":{}},"
                                + "{\"allow\":{\"ipAddresses\":[\"10.0.0.0/33\"],\"sha256\":[\"abc\"],"
                                + "\"dnsNames\":[\"a.*.example\"],\"uris\":[\"spiffe://x/*/y\"]}}],"
                                + "\"ingress\":[{\"credential\":\"c\",\"allow\":{\"commonNames\":[\"a\"]}}]}",
                        List.of(
                                "egress[0].allow",
                                "egress[1].allow.ipAddresses[0]",
                                "egress[1].allow.sha256[0]",
                                "egress[1].allow.dnsNames[0]",
                                "egress[1].allow.uris[0]",
                                "ingress[0].allow")),
                Arguments.of(
                        "an allow expression that does not compile, and one over the cost limit",
                        "{\"name\":\"r\"," + target
                                + ",\"egress\":[{\"allow\":{\"expression\":\"peer.uris.exists(u,\"}},"
                                + "{\"allow\":{\"expression\":\"peer.uris.exists(a, peer.uris.exists(b,"
                                + " peer.uris.exists(c, a == b && b == c)))\"}}]}",
                        List.of("egress[0].allow.expression", "egress[1].allow.expression")));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("refused")
    void aBadRequestIsRefusedNamingEveryFieldAtFault(String what, String json, List<String> fields) {
        InvalidRequestException refused =
                catchThrowableOfType(InvalidRequestException.class, () -> spec(json, DEFAULTS));
        assertThat(refused).as(what).isNotNull();
        assertThat(refused.errors()).extracting(FieldProblem::field).containsExactlyInAnyOrderElementsOf(fields);
    }

    @Test
    void anAllowExpressionThatDoesNotCompileIsNamedWithItsPosition() {
        String json = "{\"name\":\"r\",\"target\":{\"host\":\"127.0.0.1\",\"port\":1},"
                + "\"ingress\":[{\"credential\":\"c\",\"clientAuth\":\"require\",\"trust\":\"ca\","
                + "\"allow\":{\"expression\":\"peer.notAfter > now &&\"}}]}";
        InvalidRequestException refused =
                catchThrowableOfType(InvalidRequestException.class, () -> spec(json, DEFAULTS));

        assertThat(refused.errors()).singleElement().satisfies(problem -> {
            assertThat(problem.field()).isEqualTo("ingress[0].allow.expression");
            assertThat(problem.message()).contains("line 1, column");
        });
    }

    @Test
    void aPushedLayerIsMappedAtItsFuturePosition() {
        LayerSpec layer = RelayRequests.toLayer(
                JSON.readValue("{\"trust\":\"ca\"}", LayerRequest.class),
                Side.EGRESS,
                2,
                null,
                Duration.ofSeconds(3),
                TlsProfile.DEFAULT);
        assertThat(layer.name()).isEqualTo("2");
        assertThat(layer.role()).isEqualTo(Role.CLIENT);
        assertThat(layer.handshakeTimeout()).isEqualTo(Duration.ofSeconds(3));
    }
}
