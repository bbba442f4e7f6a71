package dev.onionrelay.registry;

import static org.assertj.core.api.Assertions.assertThat;

import dev.onionrelay.relay.Endpoint;
import dev.onionrelay.relay.RelayOptions;
import dev.onionrelay.relay.RelaySpec;
import dev.onionrelay.relay.target.TargetSpec;
import dev.onionrelay.support.Layers;
import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** The difference between the relays an instance runs and those in the shared store, case by case. */
class StoreSyncTest {

    private static final RelaySpec A = spec("a", 7001, 1);
    private static final RelaySpec B = spec("b", 7002, 1);
    private static final RelaySpec B_DEEPER = spec("b", 7002, 2);
    private static final RelaySpec C = spec("c", 7003, 1);

    static Stream<Arguments> cases() {
        return Stream.of(
                Arguments.of(
                        "nothing runs, two stored: open both",
                        Map.of(),
                        List.of(stored("1", A), stored("2", B)),
                        Set.of(),
                        List.of("1", "2"),
                        List.of(),
                        List.of()),
                Arguments.of(
                        "the same on both sides: nothing to do",
                        Map.of("1", A),
                        List.of(stored("1", A)),
                        Set.of(),
                        List.of(),
                        List.of(),
                        List.of()),
                Arguments.of(
                        "one deleted from the store: close it",
                        Map.of("1", A, "2", B),
                        List.of(stored("1", A)),
                        Set.of(),
                        List.of(),
                        List.of("2"),
                        List.of()),
                Arguments.of(
                        "layers changed: reopen it",
                        Map.of("2", B),
                        List.of(stored("2", B_DEEPER)),
                        Set.of(),
                        List.of(),
                        List.of(),
                        List.of("2")),
                Arguments.of(
                        "deleted and created again under the same name: close the old id, open the new",
                        Map.of("1", A),
                        List.of(stored("9", A)),
                        Set.of(),
                        List.of("9"),
                        List.of("1"),
                        List.of()),
                Arguments.of(
                        "a skipped one (declared name) is neither opened nor kept",
                        Map.of(),
                        List.of(stored("1", A), stored("3", C)),
                        Set.of("3"),
                        List.of("1"),
                        List.of(),
                        List.of()),
                Arguments.of(
                        "an empty store closes everything",
                        Map.of("1", A, "3", C),
                        List.of(),
                        Set.of(),
                        List.of(),
                        List.of("1", "3"),
                        List.of()));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void diff(
            String scenario,
            Map<String, RelaySpec> running,
            List<StoredRelay> stored,
            Set<String> skipped,
            List<String> open,
            List<String> close,
            List<String> replace) {
        StoreSync plan = StoreSync.diff(new LinkedHashMap<>(new java.util.TreeMap<>(running)), stored, skipped);

        assertThat(plan.open()).extracting(StoredRelay::id).containsExactlyElementsOf(open);
        assertThat(plan.close()).containsExactlyElementsOf(close);
        assertThat(plan.replace()).extracting(StoredRelay::id).containsExactlyElementsOf(replace);
        assertThat(plan.isEmpty()).isEqualTo(open.isEmpty() && close.isEmpty() && replace.isEmpty());
    }

    private static StoredRelay stored(String id, RelaySpec spec) {
        return new StoredRelay(id, Instant.parse("2026-01-01T00:00:00Z"), spec);
    }

    private static RelaySpec spec(String name, int port, int depth) {
        return new RelaySpec(
                name,
                new Endpoint("127.0.0.1", port),
                TargetSpec.fixed(new Endpoint("127.0.0.1", 9)),
                depth == 1
                        ? List.of(Layers.server("outer", "hop"))
                        : List.of(Layers.server("outer", "hop"), Layers.server("inner", "hop")),
                List.of(),
                new RelayOptions(10, Duration.ofSeconds(5), Duration.ofSeconds(5), Duration.ofMinutes(1), depth, 0));
    }
}
