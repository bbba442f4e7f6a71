package dev.onionrelay.registry;

import static org.assertj.core.api.Assertions.assertThat;

import dev.onionrelay.relay.Endpoint;
import dev.onionrelay.relay.RelaySpec;
import dev.onionrelay.relay.target.TargetSpec;
import dev.onionrelay.support.Onions;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Which targets a relay's create warns about, given where this instance's relays listen. */
class LoopbackTargetsTest {

    /** The listen ports of the instance's other relays. */
    static final Set<Integer> RELAY_PORTS = Set.of(9001, 9002);

    @ParameterizedTest(name = "target {0}:{1}, bind address {2}: warned {3}")
    @CsvSource(
            nullValues = "none",
            value = {
                "127.0.0.1, 9001, 127.0.0.3, true",
                "localhost, 9001, 127.0.0.3, true",
                "127.0.0.1, 9001, 10.1.2.3, true",
                "::1, 9001, 10.1.2.3, true",
                "127.0.0.1, 8080, 127.0.0.3, false",
                "127.0.0.3, 9001, 127.0.0.3, false",
                "127.0.0.3, 9001, 127.0.0.2, false",
                "localhost, 9001, 127.0.0.1, false",
                "127.0.0.1, 9001, none, false",
                "127.0.0.1, 9001, 0.0.0.0, false",
                "127.0.0.1, 9001, ::, false",
                "10.9.9.9, 9001, 127.0.0.3, false",
                "echo.example, 9001, 127.0.0.3, false"
            })
    void aLoopbackTargetOnAnotherRelaysPortIsWarnedAboutOnlyWhenTheBindAddressMovesThatRelayOffIt(
            String target, int port, String bindHost, boolean warned) {
        List<String> warnings =
                LoopbackTargets.warnings(relayTo(TargetSpec.fixed(new Endpoint(target, port))), bindHost, RELAY_PORTS);

        assertThat(warnings).hasSize(warned ? 1 : 0);
        if (warned) {
            assertThat(warnings.get(0))
                    .contains(new Endpoint(target, port).toString(), new Endpoint(bindHost, port).toString());
        }
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource({"CONNECT", "SOCKS5"})
    void aProxyModeNamesNoTargetToWarnAbout(TargetSpec.Mode mode) {
        assertThat(LoopbackTargets.warnings(relayTo(TargetSpec.proxy(mode)), "127.0.0.3", RELAY_PORTS))
                .isEmpty();
    }

    private static RelaySpec relayTo(TargetSpec target) {
        return new RelaySpec("r", new Endpoint("127.0.0.1", 0), target, List.of(), List.of(), Onions.options(0, 0));
    }
}
