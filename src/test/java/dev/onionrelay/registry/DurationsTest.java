package dev.onionrelay.registry;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;
import org.springframework.boot.convert.DurationStyle;

/** Request durations parse exactly as Spring configuration parses them, so a declared relay means what the API does. */
class DurationsTest {

    @ParameterizedTest
    @CsvSource({
        "10s, PT10S",
        "500ms, PT0.5S",
        "500, PT0.5S",
        "5m, PT5M",
        "2h, PT2H",
        "1d, PT24H",
        "10us, PT0.00001S",
        "7ns, PT0.000000007S",
        "10S, PT10S",
        "PT10S, PT10S",
        "pt1m, PT1M",
        "-5s, PT-5S",
        "+5s, PT5S"
    })
    void parsesTheFormsConfigurationAccepts(String text, String expected) {
        assertThat(Durations.parse(text)).isEqualTo(Duration.parse(expected));
        assertThat(Durations.parse(text)).isEqualTo(DurationStyle.detectAndParse(text));
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "ten seconds", "10 s", "10sec", "10x", "P", "PTXS", "1.5s"})
    void refusesWhatConfigurationRefuses(String text) {
        assertThatThrownBy(() -> Durations.parse(text)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> DurationStyle.detectAndParse(text)).isInstanceOf(IllegalArgumentException.class);
    }
}
