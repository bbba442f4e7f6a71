package dev.onionrelay.registry;

import static org.assertj.core.api.Assertions.assertThat;

import dev.onionrelay.relay.Endpoint;
import dev.onionrelay.relay.RelayOptions;
import dev.onionrelay.relay.RelaySpec;
import dev.onionrelay.relay.target.TargetSpec;
import dev.onionrelay.support.Layers;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Which credentials a relay holds and uses, read from its spec alone. */
class CredentialUseTest {

    private static final RelaySpec RELAY = new RelaySpec(
            "edge",
            new Endpoint("127.0.0.1", 0),
            TargetSpec.fixed(new Endpoint("127.0.0.1", 9)),
            List.of(Layers.server("outer", "hop"), Layers.serverRequiringClientCertificate("inner", "hop2", "ca")),
            List.of(Layers.client("out", "upstream-ca", "example.test")),
            new RelayOptions(10, Duration.ofSeconds(5), Duration.ofSeconds(5), Duration.ofMinutes(1), 1, 0));

    @Test
    void holds_every_identity_and_trust_of_both_sides_but_the_system_trust_store() {
        assertThat(CredentialUse.held(RELAY)).containsExactly("hop", "hop2", "ca", "upstream-ca");
    }

    @Test
    void uses_a_credential_named_as_identity_or_as_trust() {
        assertThat(CredentialUse.uses(RELAY, "hop")).as("identity").isTrue();
        assertThat(CredentialUse.uses(RELAY, "upstream-ca"))
                .as("trust of the egress side")
                .isTrue();
        assertThat(CredentialUse.uses(RELAY, "other")).as("a name no layer has").isFalse();
    }
}
