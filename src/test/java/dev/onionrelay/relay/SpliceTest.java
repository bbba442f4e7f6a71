package dev.onionrelay.relay;

import static org.assertj.core.api.Assertions.assertThat;

import dev.onionrelay.layer.Side;
import dev.onionrelay.support.LeakCheck;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.handler.timeout.IdleStateEvent;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.atomic.LongAdder;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The splice on two {@link DuplexEmbeddedChannel}s without layers (no socket, no thread): bytes read on one channel
 * are written to the other and counted; a channel that cannot take more stops reads on the other, and its drain starts
 * them again, except on a side whose peer has ended; before the tunnel opens the client's bytes are held and reads
 * stop, and opening forwards them in order; a closed tunnel drops what arrives; idle closes.
 */
@ExtendWith(LeakCheck.class)
class SpliceTest {

    private static final int SLOW = 1;

    private final TestTunnel tunnel = new TestTunnel();
    private final TunnelEnding ending = new TunnelEnding(
            tunnel, new TunnelTimers(tunnel.ingress.eventLoop()), HalfClose.PROPAGATE, Duration.ofSeconds(1));
    private final LongAdder relayIn = new LongAdder();
    private final LongAdder relayOut = new LongAdder();
    private final Splice ingressSplice = new Splice(Side.INGRESS, tunnel, ending, null, relayIn, () -> {});
    private final Splice egressSplice = new Splice(Side.EGRESS, tunnel, ending, null, relayOut, () -> {});

    @BeforeEach
    void splice() {
        tunnel.ingress.pipeline().addLast(Splice.NAME, ingressSplice);
        tunnel.egress.pipeline().addLast(Splice.NAME, egressSplice);
    }

    @AfterEach
    void finish() {
        tunnel.finish();
    }

    private static ByteBuf bytes(String text) {
        return Unpooled.copiedBuffer(text, StandardCharsets.US_ASCII);
    }

    private static String text(ByteBuf buf) {
        try {
            return buf.toString(StandardCharsets.US_ASCII);
        } finally {
            buf.release();
        }
    }

    /** The target's connection cannot take more (its write buffer over the mark), or can again. */
    private void egressWritable(boolean writable) {
        tunnel.egress.unsafe().outboundBuffer().setUserDefinedWritability(SLOW, writable);
        tunnel.runPending();
    }

    @Test
    void bytes_read_on_one_channel_are_written_to_the_other_and_counted() {
        tunnel.ingress.writeInbound(bytes("request"));
        tunnel.egress.writeInbound(bytes("answer!!"));

        assertThat(text(tunnel.egress.readOutbound())).isEqualTo("request");
        assertThat(text(tunnel.ingress.readOutbound())).isEqualTo("answer!!");
        assertThat(ingressSplice.forwarded()).isEqualTo(7);
        assertThat(egressSplice.forwarded()).isEqualTo(8);
        assertThat(relayIn.sum()).isEqualTo(7);
        assertThat(relayOut.sum()).isEqualTo(8);
    }

    @Test
    void a_slow_side_stops_reads_on_the_other_until_it_drains() {
        egressWritable(false);

        tunnel.ingress.writeInbound(bytes("more than the target can take"));
        assertThat(tunnel.ingress.config().isAutoRead()).as("reads stopped").isFalse();
        assertThat(tunnel.egress.config().isAutoRead()).isTrue();

        egressWritable(true);
        assertThat(tunnel.ingress.config().isAutoRead())
                .as("reads started again")
                .isTrue();
        assertThat(text(tunnel.egress.readOutbound())).isEqualTo("more than the target can take");
    }

    @Test
    void reads_are_not_switched_on_a_side_whose_peer_has_ended() {
        egressWritable(false);
        tunnel.ingress.writeInbound(bytes("last words"));
        assertThat(tunnel.ingress.config().isAutoRead()).isFalse();

        tunnel.ingress.peerFinished();
        tunnel.ingress.pipeline().fireUserEventTriggered(ChannelInputShutdownEvent.INSTANCE);
        tunnel.runPending();
        assertThat(tunnel.egress.outputShutdowns())
                .as("the client's end passed on")
                .isEqualTo(1);

        // Changing read interest on a socket whose input is shut down fails on epoll: it is left alone.
        egressWritable(true);
        assertThat(tunnel.ingress.config().isAutoRead()).isFalse();
        assertThat(tunnel.state).isEqualTo(TunnelState.HALF_CLOSED);
    }

    @Test
    void client_bytes_before_the_tunnel_opens_are_held_then_forwarded_in_order() {
        tunnel.state = TunnelState.CONNECTING;

        tunnel.ingress.writeInbound(bytes("first"));
        tunnel.ingress.writeInbound(bytes("second"));
        assertThat(tunnel.egress.outboundMessages()).isEmpty();
        assertThat(tunnel.ingress.config().isAutoRead())
                .as("no more reads until the target is ready")
                .isFalse();

        tunnel.state = TunnelState.OPEN;
        ingressSplice.opened(tunnel.egress);

        assertThat(text(tunnel.egress.readOutbound())).isEqualTo("first");
        assertThat(text(tunnel.egress.readOutbound())).isEqualTo("second");
        assertThat(ingressSplice.forwarded()).isEqualTo(11);
        assertThat(tunnel.ingress.config().isAutoRead()).isTrue();
    }

    @Test
    void bytes_of_the_target_during_set_up_are_not_held() {
        tunnel.state = TunnelState.CONNECTING;

        tunnel.egress.writeInbound(bytes("banner"));

        assertThat(text(tunnel.ingress.readOutbound())).isEqualTo("banner");
    }

    @Test
    void a_closed_tunnel_drops_what_arrives() {
        tunnel.state = TunnelState.CLOSED;

        tunnel.ingress.writeInbound(bytes("too late"));
        tunnel.egress.writeInbound(bytes("too late"));

        assertThat(tunnel.egress.outboundMessages()).isEmpty();
        assertThat(tunnel.ingress.outboundMessages()).isEmpty();
        assertThat(ingressSplice.forwarded()).isZero();
    }

    @Test
    void idle_timeout_closes_the_tunnel() {
        tunnel.ingress.pipeline().fireUserEventTriggered(IdleStateEvent.ALL_IDLE_STATE_EVENT);

        assertThat(tunnel.closes).isEqualTo(1);
    }
}
