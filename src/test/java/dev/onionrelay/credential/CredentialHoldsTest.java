package dev.onionrelay.credential;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import org.junit.jupiter.api.Test;

/** The holds both credential stores keep: who holds a name, and the refusal of a delete while anyone does. */
class CredentialHoldsTest {

    private final CredentialHolds holds = new CredentialHolds();

    @Test
    void namesHoldersInTheOrderTheyTookTheCredential() {
        holds.hold("id-2", "edge", List.of("ca"));
        holds.hold("id-1", "partner", List.of("ca", "server"));

        assertThat(holds.holdersOf("ca")).containsExactly("edge", "partner");
        assertThat(holds.holdersOf("server")).containsExactly("partner");
        assertThat(holds.holdersOf("unused")).isEmpty();
    }

    @Test
    void holdingAgainAddsToWhatTheHolderHolds() {
        holds.hold("id-1", "edge", List.of("ca"));
        holds.hold("id-1", "edge", List.of("server"));

        assertThat(holds.holdersOf("ca")).containsExactly("edge");
        assertThat(holds.holdersOf("server")).containsExactly("edge");
    }

    @Test
    void refusesDeleteWhileHeldNamingTheRelays() {
        holds.hold("id-1", "edge", List.of("ca"));
        holds.hold("id-2", "partner", List.of("ca"));

        assertThatThrownBy(() -> holds.requireNotHeld("ca")).isInstanceOfSatisfying(CredentialException.class, e -> {
            assertThat(e.kind()).isEqualTo(CredentialException.Kind.CONFLICT);
            assertThat(e.getMessage()).isEqualTo("credential 'ca' is used by relays [edge, partner]");
        });
        assertThatCode(() -> holds.requireNotHeld("server")).doesNotThrowAnyException();
    }

    @Test
    void releaseLetsGoOfOneHolderOnly() {
        holds.hold("id-1", "edge", List.of("ca", "server"));
        holds.hold("id-2", "partner", List.of("ca"));

        holds.release("id-1");

        assertThat(holds.holdersOf("ca")).containsExactly("partner");
        assertThat(holds.holdersOf("server")).isEmpty();
        assertThatCode(() -> holds.requireNotHeld("server")).doesNotThrowAnyException();
        holds.release("id-2");
        assertThatCode(() -> holds.requireNotHeld("ca")).doesNotThrowAnyException();
    }
}
