package dev.onionrelay.layer.shaping;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import dev.onionrelay.layer.InvalidSpecException;
import dev.onionrelay.layer.LayerDefaults;
import dev.onionrelay.layer.Side;
import dev.onionrelay.layer.SpecProblem;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/** {@code padding} takes "on" or "off" only, defaults to off, and leaves ALPN to itself when on. */
class PaddingSettingTest {

    static LayerDefaults.Builder layer() {
        return LayerDefaults.layer(Side.EGRESS, 0, Duration.ofSeconds(10));
    }

    @Test
    void onAndOffAreTheValuesAndOffIsTheDefault() {
        assertThat(layer().padding("on").build().padding()).isTrue();
        assertThat(layer().padding("off").build().padding()).isFalse();
        assertThat(layer().build().padding()).isFalse();
    }

    @Test
    void anyOtherValueIsRefusedNamingTheField() {
        for (String value : List.of("ON", "true", "", "random")) {
            InvalidSpecException refused = catchThrowableOfType(
                    InvalidSpecException.class, () -> layer().padding(value).build());
            assertThat(refused.problems()).extracting(SpecProblem::field).containsExactly("padding");
        }
    }

    @Test
    void anAlpnListBesidePaddingOnIsRefused() {
        InvalidSpecException refused = catchThrowableOfType(
                InvalidSpecException.class,
                () -> layer().padding("on").alpn(List.of("h2")).build());
        assertThat(refused.problems()).extracting(SpecProblem::field).containsExactly("alpn");
    }
}
