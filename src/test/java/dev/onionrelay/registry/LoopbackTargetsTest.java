package dev.onionrelay.registry;

import static org.assertj.core.api.Assertions.assertThat;

import dev.onionrelay.relay.Endpoint;
import dev.onionrelay.relay.RelaySpec;
import dev.onionrelay.relay.target.TargetSpec;
import dev.onionrelay.support.Onions;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Which targets a relay's create warns about, given where this instance's relays listen. */
class LoopbackTargetsTest {

    @ParameterizedTest(name = "target {0}, bind address {1}: warned {2}")
    @CsvSource(
            nullValues = "none",
            value = {
                "127.0.0.1, 127.0.0.3, true",
                "localhost, 127.0.0.3, true",
                "127.0.0.1, 10.1.2.3, true",
                "::1, 10.1.2.3, true",
                "127.0.0.3, 127.0.0.3, false",
                "localhost, 127.0.0.1, false",
                "127.0.0.1, none, false",
                "127.0.0.1, 0.0.0.0, false",
                "127.0.0.1, ::, false",
                "10.9.9.9, 127.0.0.3, false",
                "echo.example, 127.0.0.3, false"
            })
    void aLoopbackTargetIsWarnedAboutOnlyWhenTheBindAddressMovesRelaysOffIt(
            String target, String bindHost, boolean warned) {
        List<String> warnings =
                LoopbackTargets.warnings(relayTo(TargetSpec.fixed(new Endpoint(target, 9001))), bindHost);

        assertThat(warnings).hasSize(warned ? 1 : 0);
        if (warned) {
            assertThat(warnings.get(0))
                    .contains(new Endpoint(target, 9001).toString(), new Endpoint(bindHost, 9001).toString());
        }
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource({"CONNECT", "SOCKS5"})
    void aProxyModeNamesNoTargetToWarnAbout(TargetSpec.Mode mode) {
        assertThat(LoopbackTargets.warnings(relayTo(TargetSpec.proxy(mode)), "127.0.0.3"))
                .isEmpty();
    }

    private static RelaySpec relayTo(TargetSpec target) {
        return new RelaySpec("r", new Endpoint("127.0.0.1", 0), target, List.of(), List.of(), Onions.options(0, 0));
    }
}
