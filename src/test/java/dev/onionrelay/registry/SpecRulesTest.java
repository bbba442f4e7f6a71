package dev.onionrelay.registry;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import dev.onionrelay.layer.ClientAuthMode;
import dev.onionrelay.layer.LayerSpec;
import dev.onionrelay.layer.Role;
import dev.onionrelay.layer.Verification;
import dev.onionrelay.relay.Endpoint;
import dev.onionrelay.relay.RelayException;
import dev.onionrelay.relay.RelayOptions;
import dev.onionrelay.relay.RelaySpec;
import dev.onionrelay.relay.target.TargetSpec;
import dev.onionrelay.relay.upstream.ProxyProtocol;
import dev.onionrelay.relay.upstream.Upstream;
import dev.onionrelay.support.Layers;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.UnaryOperator;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The rules a relay spec must pass before anything is bound, one refusal per case, without an engine: each case
 * changes one thing of a spec that passes and names the kind and field of the refusal.
 */
class SpecRulesTest {

    private static final RelayLimits LIMITS = new RelayLimits(4, 2, 100);
    private static final RelayPolicy POLICY = policy(false);

    /** A relay that passes every rule. */
    private static final RelaySpec GOOD = spec("edge", new Endpoint("127.0.0.1", 7001), 9000, 1, 1, 10, List.of());

    /** What the registry reports: "busy" is being created, "taken" runs, "pinned" is declared, 7002 is listened on. */
    private static final SpecRules.Running RUNNING = new SpecRules.Running() {
        @Override
        public SpecRules.NameUse nameUse(String name) {
            return Map.of(
                            "busy", SpecRules.NameUse.CREATING,
                            "taken", SpecRules.NameUse.TAKEN,
                            "pinned", SpecRules.NameUse.DECLARED)
                    .getOrDefault(name, SpecRules.NameUse.FREE);
        }

        @Override
        public Optional<String> listeningOn(int port) {
            return port == 7002 ? Optional.of("other") : Optional.empty();
        }
    };

    static Stream<Arguments> refusals() {
        return Stream.of(
                refused("a name starting with '-'", s -> rename(s, "-edge"), RelayException.Kind.INVALID, "name"),
                refused("a name being created", s -> rename(s, "busy"), RelayException.Kind.CONFLICT, "name"),
                refused("a name taken", s -> rename(s, "taken"), RelayException.Kind.CONFLICT, "name"),
                refused("a declared name", s -> rename(s, "pinned"), RelayException.Kind.CONFLICT, "name"),
                refused(
                        "the name first, when the depth is wrong too",
                        s -> spec("-edge", s.listen(), 9000, 3, 1, 10, List.of()),
                        RelayException.Kind.INVALID,
                        "name"),
                refused(
                        "listening off loopback",
                        s -> spec("edge", new Endpoint("10.0.0.1", 7001), 9000, 1, 1, 10, List.of()),
                        RelayException.Kind.FORBIDDEN,
                        "listen"),
                refused(
                        "a target host outside policy",
                        s -> withTarget(s, new Endpoint("10.0.0.5", 9000)),
                        RelayException.Kind.FORBIDDEN,
                        "target.host"),
                refused(
                        "a target port outside policy",
                        s -> withTarget(s, new Endpoint("127.0.0.1", 9999)),
                        RelayException.Kind.FORBIDDEN,
                        "target.port"),
                refused(
                        "a plain proxy outside policy",
                        s -> withVia(s, new Endpoint("10.0.0.9", 9000)),
                        RelayException.Kind.FORBIDDEN,
                        "target.via"),
                refused(
                        "a port another relay listens on",
                        s -> spec("edge", new Endpoint("127.0.0.1", 7002), 9000, 1, 1, 10, List.of()),
                        RelayException.Kind.CONFLICT,
                        "listen.port"),
                refused(
                        "more ingress layers than the maximum depth",
                        s -> spec("edge", s.listen(), 9000, 3, 1, 10, List.of()),
                        RelayException.Kind.LIMIT,
                        "ingress"),
                refused(
                        "a minimum depth above the depth",
                        s -> spec("edge", s.listen(), 9000, 1, 2, 10, List.of()),
                        RelayException.Kind.INVALID,
                        "options.minDepth.ingress"),
                refused(
                        "more tunnels than the limit",
                        s -> spec("edge", s.listen(), 9000, 1, 1, 101, List.of()),
                        RelayException.Kind.LIMIT,
                        "options.maxTunnels"),
                refused(
                        "a client layer that accepts any server",
                        s -> spec("edge", s.listen(), 9000, 1, 1, 10, List.of(trustingClient())),
                        RelayException.Kind.FORBIDDEN,
                        "egress[0].verify"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("refusals")
    void refuses(String scenario, RelaySpec spec, RelayException.Kind kind, String field) {
        RelayException refused =
                catchThrowableOfType(RelayException.class, () -> new SpecRules(POLICY, LIMITS).validate(spec, RUNNING));

        assertThat(refused).as(scenario).isNotNull();
        assertThat(refused.kind()).as(scenario).isEqualTo(kind);
        assertThat(refused.field()).as(scenario).isEqualTo(field);
    }

    @Test
    void passes_a_good_spec_and_never_clashes_on_port_zero() {
        SpecRules rules = new SpecRules(POLICY, LIMITS);

        assertThatCode(() -> rules.validate(GOOD, RUNNING)).doesNotThrowAnyException();
        SpecRules.Running everyPortTaken = new SpecRules.Running() {
            @Override
            public SpecRules.NameUse nameUse(String name) {
                return SpecRules.NameUse.FREE;
            }

            @Override
            public Optional<String> listeningOn(int port) {
                return Optional.of("other");
            }
        };
        RelaySpec anyPort = spec("edge", new Endpoint("127.0.0.1", 0), 9000, 1, 1, 10, List.of());
        assertThatCode(() -> rules.validate(anyPort, everyPortTaken)).doesNotThrowAnyException();
    }

    @Test
    void allows_a_trusting_client_layer_when_policy_does() {
        RelaySpec spec = spec("edge", GOOD.listen(), 9000, 1, 1, 10, List.of(trustingClient()));

        assertThatCode(() -> new SpecRules(policy(true), LIMITS).validate(spec, RUNNING))
                .doesNotThrowAnyException();
    }

    @Test
    void refuses_a_relay_more_than_the_limit() {
        SpecRules rules = new SpecRules(POLICY, LIMITS);

        assertThatCode(() -> rules.checkRoom(LIMITS.maxRelays() - 1)).doesNotThrowAnyException();
        RelayException refused = catchThrowableOfType(RelayException.class, () -> rules.checkRoom(LIMITS.maxRelays()));
        assertThat(refused.kind()).isEqualTo(RelayException.Kind.LIMIT);
    }

    @Test
    void a_pushed_layer_beyond_the_maximum_depth_is_refused_without_a_field() {
        SpecRules rules = new SpecRules(POLICY, LIMITS);

        assertThatCode(() -> rules.checkMaxDepth("egress", LIMITS.maxDepth(), null))
                .doesNotThrowAnyException();
        RelayException refused = catchThrowableOfType(
                RelayException.class, () -> rules.checkMaxDepth("egress", LIMITS.maxDepth() + 1, null));
        assertThat(refused.kind()).isEqualTo(RelayException.Kind.LIMIT);
        assertThat(refused.field()).isNull();
    }

    private static Arguments refused(
            String scenario, UnaryOperator<RelaySpec> change, RelayException.Kind kind, String field) {
        return Arguments.of(scenario, change.apply(GOOD), kind, field);
    }

    private static RelayPolicy policy(boolean allowInsecureVerify) {
        return new RelayPolicy(
                List.of("loopback"),
                List.of("0", "1024-65535"),
                List.of("loopback"),
                List.of("9000-9100"),
                RelayPolicy.DEFAULT_DENIED_TARGETS,
                allowInsecureVerify);
    }

    private static RelaySpec spec(
            String name,
            Endpoint listen,
            int targetPort,
            int depth,
            int minDepth,
            int maxTunnels,
            List<LayerSpec> egress) {
        List<LayerSpec> ingress = Stream.iterate(0, i -> i + 1)
                .limit(depth)
                .map(i -> Layers.server("layer" + i, "hop"))
                .toList();
        return new RelaySpec(
                name,
                listen,
                TargetSpec.fixed(new Endpoint("127.0.0.1", targetPort)),
                ingress,
                egress,
                new RelayOptions(
                        maxTunnels, Duration.ofSeconds(5), Duration.ofSeconds(5), Duration.ofMinutes(1), minDepth, 0));
    }

    private static RelaySpec rename(RelaySpec spec, String name) {
        return new RelaySpec(
                name, spec.listen(), spec.target(), spec.ingress(), spec.egress(), spec.options(), spec.upstream());
    }

    private static RelaySpec withTarget(RelaySpec spec, Endpoint target) {
        return new RelaySpec(
                spec.name(),
                spec.listen(),
                TargetSpec.fixed(target),
                spec.ingress(),
                spec.egress(),
                spec.options(),
                spec.upstream());
    }

    private static RelaySpec withVia(RelaySpec spec, Endpoint via) {
        return new RelaySpec(
                spec.name(),
                spec.listen(),
                spec.target(),
                spec.ingress(),
                spec.egress(),
                spec.options(),
                new Upstream(via, ProxyProtocol.OFF));
    }

    /** A client layer that would accept any server certificate. */
    private static LayerSpec trustingClient() {
        return new LayerSpec(
                "out",
                Role.CLIENT,
                null,
                LayerSpec.SYSTEM_TRUST,
                "example.test",
                Verification.NONE,
                ClientAuthMode.NONE,
                List.of("TLSv1.3", "TLSv1.2"),
                List.of(),
                List.of(),
                Layers.TIMEOUT,
                null,
                null,
                false);
    }
}
