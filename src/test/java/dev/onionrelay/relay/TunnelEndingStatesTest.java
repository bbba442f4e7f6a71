package dev.onionrelay.relay;

import static org.assertj.core.api.Assertions.assertThat;

import dev.onionrelay.layer.Side;
import dev.onionrelay.support.LeakCheck;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The ending of a tunnel as a state machine, on two {@link DuplexEmbeddedChannel}s without layers (no socket, no
 * thread; time is the channels' own): the end of one peer's direction is passed on to the other peer as a shutdown of
 * our output (FIN), at once or, for the client's end with {@link HalfClose#HOLD}, once the target's end has reached
 * the client or the hold times out; once both outputs are shut the tunnel lingers until both peers' FIN, or {@link
 * TunnelEnding#LINGER}; during set-up the client's end is the tunnel's to decide.
 */
@ExtendWith(LeakCheck.class)
class TunnelEndingStatesTest {

    private static final Duration HOLD_TIMEOUT = Duration.ofSeconds(3);

    private final TestTunnel tunnel = new TestTunnel();

    @AfterEach
    void finish() {
        tunnel.finish();
    }

    private TunnelEnding ending(HalfClose mode) {
        // Only the test moves the timers' time.
        tunnel.ingress.freezeTime();
        return new TunnelEnding(tunnel, new TunnelTimers(tunnel.ingress.eventLoop()), mode, HOLD_TIMEOUT);
    }

    /** Moves the time of the timers' event loop on and runs what is due. */
    private void advance(Duration by) {
        tunnel.ingress.advanceTimeBy(by.toMillis(), TimeUnit.MILLISECONDS);
        tunnel.runPending();
    }

    @Test
    void targets_end_is_passed_on_to_the_client_at_once() {
        TunnelEnding ending = ending(HalfClose.HOLD);

        ending.inputEnded(Side.EGRESS);
        tunnel.runPending();

        assertThat(tunnel.ingress.outputShutdowns()).isEqualTo(1);
        assertThat(tunnel.egress.outputShutdowns()).isZero();
        assertThat(tunnel.state).isEqualTo(TunnelState.HALF_CLOSED);
        assertThat(ending.peerEnded(Side.EGRESS)).isTrue();
        assertThat(ending.peerEnded(Side.INGRESS)).isFalse();
        assertThat(ending.lingering()).isFalse();
        assertThat(tunnel.closes).isZero();
    }

    @Test
    void clients_end_is_passed_on_to_the_target_at_once_when_propagating() {
        TunnelEnding ending = ending(HalfClose.PROPAGATE);

        ending.inputEnded(Side.INGRESS);
        tunnel.runPending();

        assertThat(tunnel.egress.outputShutdowns()).isEqualTo(1);
        assertThat(tunnel.ingress.outputShutdowns()).isZero();
        assertThat(tunnel.state).isEqualTo(TunnelState.HALF_CLOSED);
        assertThat(tunnel.closes).isZero();
    }

    @Test
    void an_end_is_passed_on_once() {
        TunnelEnding ending = ending(HalfClose.PROPAGATE);

        ending.inputEnded(Side.INGRESS);
        ending.inputEnded(Side.INGRESS);
        tunnel.runPending();

        assertThat(tunnel.egress.outputShutdowns()).isEqualTo(1);
    }

    @Test
    void held_client_end_follows_once_the_targets_end_has_reached_the_client() {
        TunnelEnding ending = ending(HalfClose.HOLD);

        ending.inputEnded(Side.INGRESS);
        tunnel.runPending();
        assertThat(tunnel.egress.outputShutdowns()).as("held").isZero();
        assertThat(tunnel.state).isEqualTo(TunnelState.HALF_CLOSED);

        ending.inputEnded(Side.EGRESS);
        tunnel.runPending();
        assertThat(tunnel.ingress.outputShutdowns()).isEqualTo(1);
        assertThat(tunnel.egress.outputShutdowns()).as("released").isEqualTo(1);
        // Both outputs shut, both peers still connected: the tunnel reads and drops what they still send.
        assertThat(ending.lingering()).isTrue();
        assertThat(tunnel.closes).isZero();

        // The hold's timer, cancelled in effect: the end is not passed on a second time.
        advance(HOLD_TIMEOUT);
        assertThat(tunnel.egress.outputShutdowns()).isEqualTo(1);
    }

    @Test
    void held_client_end_is_passed_on_when_the_hold_times_out() {
        TunnelEnding ending = ending(HalfClose.HOLD);

        ending.inputEnded(Side.INGRESS);
        advance(HOLD_TIMEOUT.minusMillis(1));
        assertThat(tunnel.egress.outputShutdowns()).isZero();

        advance(Duration.ofMillis(1));
        assertThat(tunnel.egress.outputShutdowns()).isEqualTo(1);
        assertThat(tunnel.closes).isZero();
    }

    @Test
    void client_end_is_not_held_once_our_output_to_the_client_is_shut() {
        TunnelEnding ending = ending(HalfClose.HOLD);

        ending.inputEnded(Side.EGRESS);
        tunnel.runPending();
        ending.inputEnded(Side.INGRESS);
        tunnel.runPending();

        assertThat(tunnel.egress.outputShutdowns()).isEqualTo(1);
    }

    @Test
    void lingering_tunnel_closes_once_both_peers_have_sent_their_fin() {
        TunnelEnding ending = ending(HalfClose.PROPAGATE);
        ending.inputEnded(Side.INGRESS);
        ending.inputEnded(Side.EGRESS);
        tunnel.runPending();
        assertThat(ending.lingering()).isTrue();
        assertThat(tunnel.ingress.config().isAutoRead()).isTrue();
        assertThat(tunnel.egress.config().isAutoRead()).isTrue();

        tunnel.ingress.peerFinished();
        ending.inputShutdown(Side.INGRESS);
        assertThat(tunnel.closes).as("the target has not finished").isZero();

        tunnel.egress.peerFinished();
        ending.inputShutdown(Side.EGRESS);
        assertThat(tunnel.closes).isEqualTo(1);
    }

    @Test
    void lingering_tunnel_closes_after_the_linger_time_when_a_peer_never_finishes() {
        TunnelEnding ending = ending(HalfClose.PROPAGATE);
        ending.inputEnded(Side.INGRESS);
        ending.inputEnded(Side.EGRESS);
        tunnel.runPending();

        advance(TunnelEnding.LINGER.minusMillis(1));
        assertThat(tunnel.closes).isZero();

        advance(Duration.ofMillis(1));
        assertThat(tunnel.closes).isEqualTo(1);
    }

    @Test
    void client_end_during_set_up_is_left_to_the_tunnel() {
        TunnelEnding ending = ending(HalfClose.PROPAGATE);
        tunnel.state = TunnelState.CONNECTING;

        ending.inputEnded(Side.INGRESS);
        ending.inputEnded(Side.INGRESS);
        tunnel.runPending();

        assertThat(tunnel.clientEndsDuringSetUp).isEqualTo(1);
        assertThat(tunnel.egress.outputShutdowns()).isZero();
        assertThat(tunnel.state).isEqualTo(TunnelState.CONNECTING);
        assertThat(ending.peerEnded(Side.INGRESS)).isTrue();
    }

    @Test
    void graceful_end_shuts_the_clients_output_and_closes_at_its_fin() {
        TunnelEnding ending = ending(HalfClose.PROPAGATE);
        tunnel.state = TunnelState.CONNECTING;

        ending.endGracefully();
        tunnel.runPending();
        assertThat(tunnel.ingress.outputShutdowns()).isEqualTo(1);
        assertThat(ending.lingering()).isTrue();
        assertThat(tunnel.closes).isZero();

        tunnel.ingress.peerFinished();
        ending.inputShutdown(Side.INGRESS);
        assertThat(tunnel.closes).isEqualTo(1);
    }
}
