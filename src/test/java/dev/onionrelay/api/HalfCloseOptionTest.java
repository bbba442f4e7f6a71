package dev.onionrelay.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.onionrelay.registry.FieldProblem;
import dev.onionrelay.registry.InvalidRequestException;
import dev.onionrelay.registry.RelayRequest;
import dev.onionrelay.registry.RelayRequests;
import dev.onionrelay.relay.HalfClose;
import dev.onionrelay.relay.RelayOptions;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** {@code options.halfClose} and {@code options.halfCloseTimeout} of a relay request: defaults, names, bad values. */
class HalfCloseOptionTest {

    static final RelayRequests.Defaults DEFAULTS =
            new RelayRequests.Defaults(100, Duration.ofSeconds(10), Duration.ofSeconds(5), Duration.ofMinutes(5));

    private static RelayOptions options(String halfClose, String timeout) {
        RelayRequest request = new RelayRequest(
                "r",
                null,
                RelayRequest.TargetRequest.fixed("127.0.0.1", 7000),
                List.of(),
                List.of(),
                new RelayRequest.OptionsRequest(null, null, null, null, null, halfClose, timeout));
        return RelayRequests.toSpec(request, DEFAULTS).options();
    }

    @ParameterizedTest(name = "{0} {1} -> {2} {3}")
    @CsvSource(
            nullValues = "none",
            value = {
                "none, none, PROPAGATE, PT30S",
                "propagate, none, PROPAGATE, PT30S",
                "hold, none, HOLD, PT30S",
                "hold, 5s, HOLD, PT5S",
                "hold, PT2M, HOLD, PT2M"
            })
    void validChoicesAndTheirDefaults(String halfClose, String timeout, HalfClose mode, Duration expectedTimeout) {
        RelayOptions options = options(halfClose, timeout);

        assertThat(options.halfClose()).isEqualTo(mode);
        assertThat(options.halfCloseTimeout()).isEqualTo(expectedTimeout);
    }

    @ParameterizedTest(name = "{0} {1} -> {2}")
    @CsvSource({
        "sometimes, 5s, options.halfClose",
        "HOLD, 5s, options.halfClose",
        "hold, soon, options.halfCloseTimeout",
        "hold, 0s, options.halfCloseTimeout"
    })
    void badValuesNameTheField(String halfClose, String timeout, String field) {
        assertThatThrownBy(() -> options(halfClose, timeout))
                .isInstanceOfSatisfying(InvalidRequestException.class, e -> assertThat(e.errors())
                        .extracting(FieldProblem::field)
                        .containsExactly(field));
    }
}
