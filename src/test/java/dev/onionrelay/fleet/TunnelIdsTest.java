package dev.onionrelay.fleet;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Tunnel ids as shown: a fleet member's name their instance, a single instance's stay the engine's. */
class TunnelIdsTest {

    static final String LOCAL = UUID.randomUUID().toString();

    @ParameterizedTest(name = "{0}")
    @CsvSource({"b", "onion-relay-1", "pod-0.onion.default.svc", "a_b~c"})
    void aFleetMembersIdNamesItAndLeadsBackToTheEnginesId(String instance) {
        String shown = TunnelIds.carrying(instance).shown(LOCAL);

        assertThat(shown).isEqualTo(LOCAL + "." + instance);
        assertThat(TunnelIds.holder(shown)).isEqualTo(new TunnelIds.Holder(instance, LOCAL));
    }

    @Test
    void aSingleInstancesIdIsTheEnginesAndNamesNoInstance() {
        String shown = TunnelIds.plain().shown(LOCAL);

        assertThat(shown).isEqualTo(LOCAL);
        assertThat(TunnelIds.holder(shown)).isEqualTo(new TunnelIds.Holder(null, LOCAL));
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource({"a/b", "a b", "caf\u00e9", "a?b"})
    void aNameThatIsNotUrlSafeAsItIsLeavesIdsPlain(String instance) {
        assertThat(TunnelIds.carrying(instance).shown(LOCAL)).isEqualTo(LOCAL);
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource({"'.b'", "'abc.'", "abc"})
    void anIdWithoutBothPartsNamesNoInstance(String shown) {
        assertThat(TunnelIds.holder(shown).instance()).isNull();
        assertThat(TunnelIds.holder(shown).local()).isEqualTo(shown);
    }
}
