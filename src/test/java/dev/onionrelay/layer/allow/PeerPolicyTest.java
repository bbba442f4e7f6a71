package dev.onionrelay.layer.allow;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.onionrelay.layer.InvalidSpecException;
import dev.onionrelay.layer.SpecProblem;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** Which peers a layer's {@code allow} accepts, and which {@code allow} values are refused at create. */
class PeerPolicyTest {

    private static final Instant NOW = Instant.parse("2026-12-07T10:00:00Z");
    private static final String PIN = "ab".repeat(32);

    private static PeerIdentity peer(
            List<String> cn, List<String> ou, List<String> dns, List<String> uris, List<String> ips, String sha256) {
        return new PeerIdentity(
                "CN=" + (cn.isEmpty() ? "x" : cn.get(0)),
                cn,
                ou,
                dns,
                uris,
                ips,
                sha256,
                "1f",
                "CN=dev CA",
                NOW.minus(Duration.ofDays(1)),
                NOW.plus(Duration.ofDays(30)));
    }

    private static final PeerIdentity FRONTEND = peer(
            List.of("frontend"),
            List.of("edge"),
            List.of("web.svc.example"),
            List.of("spiffe://test.example/ns/web/sa/frontend"),
            List.of("10.1.2.3", "0:0:0:0:0:0:0:1"),
            PIN);

    private static PeerAllow only(String list, String entry) {
        List<String> one = List.of(entry);
        return switch (list) {
            case "commonNames" -> new PeerAllow(one, null, null, null, null, null, null);
            case "organizationalUnits" -> new PeerAllow(null, one, null, null, null, null, null);
            case "dnsNames" -> new PeerAllow(null, null, one, null, null, null, null);
            case "uris" -> new PeerAllow(null, null, null, one, null, null, null);
            case "ipAddresses" -> new PeerAllow(null, null, null, null, one, null, null);
            case "sha256" -> new PeerAllow(null, null, null, null, null, one, null);
            default -> throw new IllegalArgumentException(list);
        };
    }

    static Stream<Arguments> entries() {
        return Stream.of(
                Arguments.of("commonNames", "frontend", true),
                Arguments.of("commonNames", "backend", false),
                Arguments.of("organizationalUnits", "edge", true),
                Arguments.of("organizationalUnits", "core", false),
                Arguments.of("dnsNames", "web.svc.example", true),
                Arguments.of("dnsNames", "*.svc.example", true),
                Arguments.of("dnsNames", "WEB.svc.example", true),
                Arguments.of("uris", "spiffe://test.example/ns/web/sa/frontend", true),
                Arguments.of("uris", "spiffe://test.example/ns/web/*", true),
                Arguments.of("uris", "spiffe://test.example/ns/batch/*", false),
                Arguments.of("uris", "spiffe://test.example/ns/web/sa/other", false),
                Arguments.of("ipAddresses", "10.0.0.0/8", true),
                Arguments.of("ipAddresses", "10.1.2.3", true),
                Arguments.of("ipAddresses", "10.1.2.0/31", false),
                Arguments.of("ipAddresses", "192.168.0.0/16", false),
                Arguments.of("ipAddresses", "::1/128", true),
                Arguments.of("sha256", PIN.toUpperCase(), true),
                Arguments.of("sha256", "cd".repeat(32), false));
    }

    @ParameterizedTest(name = "{0} {1}: allowed={2}")
    @MethodSource("entries")
    void each_list_kind_allows_a_match_and_refuses_the_rest(String list, String entry, boolean allowed) {
        PeerPolicy policy = PeerPolicy.compile(only(list, entry));

        assertThat(policy.refusal(FRONTEND, NOW) == null).isEqualTo(allowed);
    }

    @Test
    void lists_are_alternatives_and_the_expression_must_hold_too() {
        PeerAllow allow = new PeerAllow(
                List.of("nobody"),
                null,
                null,
                List.of("spiffe://test.example/ns/web/*"),
                null,
                null,
                "peer.notAfter - now > duration('720h')");

        assertThat(PeerPolicy.compile(allow).refusal(FRONTEND, NOW)).isEqualTo("allow.expression is false");
        assertThat(PeerPolicy.compile(allow).refusal(FRONTEND, NOW.minus(Duration.ofDays(2))))
                .isNull();
    }

    @Test
    void an_expression_alone_decides_over_the_peer_fields() {
        PeerAllow allow = new PeerAllow(
                null,
                null,
                null,
                null,
                null,
                null,
                "peer.uris.exists(u, u.startsWith('spiffe://test.example/')) && peer.commonName == 'frontend'"
                        + " && peer.notBefore < now && peer.issuer == 'CN=dev CA' && size(peer.sha256) == 64");

        assertThat(PeerPolicy.compile(allow).refusal(FRONTEND, NOW)).isNull();
        PeerIdentity other =
                peer(List.of("frontend"), List.of(), List.of(), List.of("spiffe://else/x"), List.of(), PIN);
        assertThat(PeerPolicy.compile(allow).refusal(other, NOW)).isNotNull();
    }

    static Stream<Arguments> refusedAtCreate() {
        return Stream.of(
                Arguments.of(new PeerAllow(null, null, null, null, null, null, null), "allow"),
                Arguments.of(only("dnsNames", "web.*.example"), "allow.dnsNames[0]"),
                Arguments.of(only("dnsNames", "*.example"), "allow.dnsNames[0]"),
                Arguments.of(only("dnsNames", "*"), "allow.dnsNames[0]"),
                Arguments.of(only("uris", "spiffe://test.example/*/frontend"), "allow.uris[0]"),
                Arguments.of(only("uris", "no-scheme/path"), "allow.uris[0]"),
                Arguments.of(only("ipAddresses", "10.0.0.0/33"), "allow.ipAddresses[0]"),
                Arguments.of(only("ipAddresses", "10.0.0/8"), "allow.ipAddresses[0]"),
                Arguments.of(only("ipAddresses", "host.example"), "allow.ipAddresses[0]"),
                Arguments.of(only("sha256", "abc"), "allow.sha256[0]"),
                Arguments.of(only("sha256", "zz".repeat(32)), "allow.sha256[0]"),
                Arguments.of(only("commonNames", "*"), "allow.commonNames[0]"),
                Arguments.of(only("organizationalUnits", " "), "allow.organizationalUnits[0]"),
                Arguments.of(new PeerAllow(null, null, null, null, null, null, " "), "allow.expression"));
    }

    @ParameterizedTest(name = "{1}: {0}")
    @MethodSource("refusedAtCreate")
    void malformed_entries_are_refused_naming_the_field(PeerAllow allow, String field) {
        assertThatThrownBy(() -> PeerPolicy.compile(allow))
                .isInstanceOf(InvalidSpecException.class)
                .satisfies(e -> assertThat(((InvalidSpecException) e).problems())
                        .extracting(SpecProblem::field)
                        .containsExactly(field));
    }

    @Test
    void an_expression_that_does_not_compile_names_its_position() {
        PeerAllow allow = new PeerAllow(null, null, null, null, null, null, "peer.uris.exists(u, u.startsWith('x') &&");

        assertThatThrownBy(() -> PeerPolicy.compile(allow))
                .isInstanceOf(InvalidSpecException.class)
                .satisfies(e -> assertThat(((InvalidSpecException) e).problems().get(0))
                        .extracting(SpecProblem::field, SpecProblem::message)
                        .satisfies(fm -> {
                            assertThat(fm.get(0)).isEqualTo("allow.expression");
                            assertThat((String) fm.get(1)).contains("line 1, column ");
                        }));
    }

    @Test
    void a_dns_wildcard_stands_for_one_label_only() {
        PeerPolicy policy = PeerPolicy.compile(only("dnsNames", "*.svc.example"));
        PeerIdentity deeper = peer(List.of(), List.of(), List.of("a.web.svc.example"), List.of(), List.of(), PIN);

        assertThat(policy.refusal(deeper, NOW)).isNotNull();
    }

    @Test
    void an_expression_naming_an_unknown_peer_field_or_of_the_wrong_type_is_refused() {
        assertThatThrownBy(
                        () -> PeerPolicy.compile(new PeerAllow(null, null, null, null, null, null, "peer.uri == []")))
                .hasMessageContaining("no field 'uri'");
        assertThatThrownBy(() -> PeerPolicy.compile(new PeerAllow(null, null, null, null, null, null, "now")))
                .isInstanceOf(InvalidSpecException.class);
    }

    @Test
    void an_expression_over_the_cost_limit_is_refused_at_create() {
        // Three nested macros over certificate lists: 64^3 steps.
        String nested = "peer.uris.exists(a, peer.dnsNames.exists(b, peer.ipAddresses.exists(c, a + b + c == 'x')))";

        assertThatThrownBy(() -> PeerPolicy.compile(new PeerAllow(null, null, null, null, null, null, nested)))
                .isInstanceOf(InvalidSpecException.class)
                .hasMessageContaining("exceeds the limit");
        // One macro is well within it.
        PeerPolicy.compile(new PeerAllow(null, null, null, null, null, null, "peer.uris.exists(a, a == 'x')"));
    }
}
