package dev.onionrelay.registry;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The wait before each retry of a FAILED relay: doubling from the first wait, capped at the longest. */
class ListenRetryTest {

    @ParameterizedTest(name = "retry {0} after {1} (first {2}, longest {3})")
    @CsvSource({
        "1, PT1S, PT1S, PT30S",
        "2, PT2S, PT1S, PT30S",
        "3, PT4S, PT1S, PT30S",
        "5, PT16S, PT1S, PT30S",
        "6, PT30S, PT1S, PT30S",
        "7, PT30S, PT1S, PT30S",
        "1000000, PT30S, PT1S, PT30S",
        "1, PT0.2S, PT0.2S, PT1S",
        "3, PT0.8S, PT0.2S, PT1S",
        "4, PT1S, PT0.2S, PT1S",
        "9, PT5S, PT5S, PT5S"
    })
    void waitsDoubleUpToTheLongest(int retry, Duration expected, Duration initial, Duration max) {
        assertThat(new ListenRetry(initial, max).delay(retry)).isEqualTo(expected);
    }

    @ParameterizedTest(name = "first {0}, longest {1} is refused")
    @CsvSource({"PT0S, PT30S", "PT-1S, PT30S", "PT10S, PT5S"})
    void refusesWaitsThatCannotWork(Duration initial, Duration max) {
        assertThatThrownBy(() -> new ListenRetry(initial, max)).isInstanceOf(IllegalArgumentException.class);
    }
}
