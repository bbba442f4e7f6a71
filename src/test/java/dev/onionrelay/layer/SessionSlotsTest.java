package dev.onionrelay.layer;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** How client handshakes to one peer share the JDK session cache: one key per handshake in flight. */
class SessionSlotsTest {

    final TlsContexts.SessionSlots slots = new TlsContexts.SessionSlots();

    @Test
    void oneHandshakeAfterAnotherKeepsUsingTheSameSlot() {
        for (int i = 0; i < 5; i++) {
            int slot = slots.take("hop:7000");
            assertThat(slot).isZero();
            slots.release("hop:7000", slot);
        }
    }

    @Test
    void concurrentHandshakesGetSlotsOfTheirOwnAndReuseThemInTheOrderTheyFinished() {
        List<Integer> inFlight = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            inFlight.add(slots.take("hop:7000"));
        }
        assertThat(inFlight).containsExactly(0, 1, 2);

        slots.release("hop:7000", 1);
        slots.release("hop:7000", 2);
        slots.release("hop:7000", 0);

        // The slot whose handshake finished first has had the longest for its new ticket to arrive.
        assertThat(List.of(slots.take("hop:7000"), slots.take("hop:7000"), slots.take("hop:7000")))
                .containsExactly(1, 2, 0);
    }

    @Test
    void eachPeerHasItsOwnSlots() {
        assertThat(slots.take("hop-a:7000")).isZero();
        assertThat(slots.take("hop-b:7000")).isZero();
        assertThat(slots.take("hop-a:7001")).isZero();
    }

    @Test
    void beyondTheMaximumBusySlotsAreSharedInTurn() {
        for (int i = 0; i < TlsContexts.MAX_SESSION_SLOTS; i++) {
            assertThat(slots.take("hop:7000")).isEqualTo(i);
        }
        assertThat(slots.take("hop:7000")).isZero();
        assertThat(slots.take("hop:7000")).isEqualTo(1);
    }
}
