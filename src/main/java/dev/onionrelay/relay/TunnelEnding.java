package dev.onionrelay.relay;

import dev.onionrelay.layer.LayerStack;
import dev.onionrelay.layer.Side;
import io.netty.channel.Channel;
import io.netty.channel.socket.DuplexChannel;
import io.netty.util.concurrent.Future;
import java.time.Duration;
import org.jspecify.annotations.Nullable;

/**
 * How a tunnel ends: the end of each direction, the half-close hold and the lingering close. The cut is here because
 * ending is a protocol of its own (close_notify on every layer, FIN, hold, linger) that only needs the two channels,
 * their stacks and the tunnel's state, and reads best, and is tested ({@code TunnelEndingStatesTest}), apart from how
 * bytes move or how the target is found.
 *
 * <p>The state is four facts and two waits:
 *
 * <ul>
 *   <li>each peer's input has ended ({@link #peerEnded}): its TCP FIN, or its close_notify at the minimum depth;
 *   <li>our output towards each peer is shut: close_notify on each of its layers, innermost first, then TCP FIN;
 *   <li>the client's end is held ({@link HalfClose#HOLD}): it waits until our output towards the client is shut, or
 *       the relay's half-close timeout;
 *   <li>lingering ({@link #lingering}): our output is shut on each connection we shut, and we read and drop what
 *       those peers still send until their FIN, for at most {@link #LINGER}.
 * </ul>
 *
 * <p>Transitions: the target ends its input → our output towards the client is shut. The client ends its input →
 * while the tunnel is open, our output towards the target is shut at once, or held; during set-up, the tunnel decides
 * ({@link Owner#clientEndedDuringSetUp}). Either end makes an open tunnel {@link TunnelState#HALF_CLOSED}. Both
 * outputs shut, or a graceful end ({@link #endGracefully}) → lingering → closed.
 *
 * <p>Event loop only.
 */
final class TunnelEnding {

    /**
     * How long a tunnel whose directions have both ended waits for its peers' FIN before it closes anyway (see {@link
     * #closeWhenPeersFinish}). Peers that end cleanly send it at once; this only bounds one that does not.
     */
    static final Duration LINGER = Duration.ofSeconds(5);

    /** What the ending needs of its tunnel. */
    interface Owner {

        TunnelState state();

        /** One direction has ended: an open tunnel becomes {@link TunnelState#HALF_CLOSED}. */
        void halfClosed();

        /** The connection of one side; the egress one once the target is connected. */
        @Nullable
        Channel channel(Side side);

        /** The stack of one side; the egress one once the target is connected. */
        @Nullable
        LayerStack stack(Side side);

        /** The client ended its direction before the tunnel opened (handshakes, its proxy request, the connect). */
        void clientEndedDuringSetUp();

        /** Closes both connections now. */
        void close();
    }

    private final Owner tunnel;
    private final TunnelTimers timers;
    private final HalfClose halfClose;
    private final Duration halfCloseTimeout;

    private boolean ingressInputEnded;
    private boolean egressInputEnded;
    private boolean ingressOutputShut;
    private boolean egressOutputShut;
    /** Closes the tunnel while it waits for its peers' FIN (see {@link #closeWhenPeersFinish}); null until then. */
    private @Nullable Future<?> linger;
    /** The client's end of its direction waits to be passed on (see {@link #passOnClientEnd}). */
    private boolean clientEndHeld;

    TunnelEnding(Owner tunnel, TunnelTimers timers, HalfClose halfClose, Duration halfCloseTimeout) {
        this.tunnel = tunnel;
        this.timers = timers;
        this.halfClose = halfClose;
        this.halfCloseTimeout = halfCloseTimeout;
    }

    /** Whether the peer on {@code side} has ended its direction: it will send nothing more. */
    boolean peerEnded(Side side) {
        return side == Side.INGRESS ? ingressInputEnded : egressInputEnded;
    }

    /** Whether both directions are done and the tunnel only waits for its peers' FIN. */
    boolean lingering() {
        return linger != null;
    }

    /** The channel on {@code side} read its peer's FIN. */
    void inputShutdown(Side side) {
        inputEnded(side);
        if (lingering()) {
            closeWhenPeersFinish();
        }
    }

    /** The peer on {@code side} will send nothing more (its FIN, or its close_notify at the minimum depth). */
    void inputEnded(Side side) {
        if (side == Side.INGRESS) {
            if (ingressInputEnded) {
                return;
            }
            ingressInputEnded = true;
            TunnelState state = tunnel.state();
            if (state == TunnelState.OPEN || state == TunnelState.HALF_CLOSED) {
                passOnClientEnd();
            } else {
                tunnel.clientEndedDuringSetUp();
            }
        } else {
            if (egressInputEnded) {
                return;
            }
            egressInputEnded = true;
            endOutbound(Side.INGRESS);
        }
        if (tunnel.state() == TunnelState.OPEN) {
            tunnel.halfClosed();
        }
    }

    /**
     * The client ended its direction: end ours towards the target, at once or, with {@link HalfClose#HOLD}, once the
     * target's direction has ended and reached the client (or the hold times out). Peers such as stunnel drop the
     * unread rest of their response as soon as the client's side closes.
     */
    void passOnClientEnd() {
        if (halfClose != HalfClose.HOLD || ingressOutputShut) {
            endOutbound(Side.EGRESS);
            return;
        }
        clientEndHeld = true;
        timers.schedule(this::releaseClientEnd, halfCloseTimeout);
    }

    private void releaseClientEnd() {
        if (clientEndHeld && tunnel.state() != TunnelState.CLOSED) {
            clientEndHeld = false;
            endOutbound(Side.EGRESS);
        }
    }

    /** Ends our output on {@code side}: close_notify on each layer, innermost first, then TCP FIN. */
    private void endOutbound(Side side) {
        LayerStack stack = tunnel.stack(side);
        Channel channel = tunnel.channel(side);
        if (stack == null || channel == null) {
            tunnel.close();
            return;
        }
        stack.closeOutbound().addListener(f -> {
            if (channel instanceof DuplexChannel duplex && channel.isActive()) {
                duplex.shutdownOutput().addListener(shut -> outputShut(side));
            } else {
                outputShut(side);
            }
        });
    }

    private void outputShut(Side side) {
        if (side == Side.INGRESS) {
            ingressOutputShut = true;
            // The response has reached the client in full: a held end of the client's direction may follow now.
            releaseClientEnd();
        } else {
            egressOutputShut = true;
        }
        if (ingressOutputShut && egressOutputShut) {
            closeWhenPeersFinish();
        }
    }

    /**
     * Ends the client connection politely when there is nothing to relay: close_notify on every layer, FIN, then the
     * lingering close, so that a client still sending does not lose the answer (a proxy refusal, say) to a reset.
     */
    void endGracefully() {
        LayerStack stack = tunnel.stack(Side.INGRESS);
        Channel ingress = tunnel.channel(Side.INGRESS);
        stack.closeOutbound().addListener(f -> {
            if (f.isSuccess() && ingress instanceof DuplexChannel duplex && ingress.isActive()) {
                duplex.shutdownOutput().addListener(shut -> {
                    ingressOutputShut = true;
                    closeWhenPeersFinish();
                });
            } else {
                tunnel.close();
            }
        });
    }

    /**
     * Our side is done and our FIN is out on each connection we shut: close once each of those peers has sent its FIN
     * too, or after {@link #LINGER}. A peer may end its direction with a close_notify at the minimum depth while the
     * layers outside it are still on their way (their close_notify, then its FIN); a socket closed with such bytes
     * unread, or receiving them after the close, is reset, and the reset throws away what the peer has not read yet of
     * our answer. So the rest is read and dropped first: the lingering close of HTTP servers.
     */
    private void closeWhenPeersFinish() {
        if (tunnel.state() == TunnelState.CLOSED) {
            return;
        }
        boolean waiting = false;
        for (Side side : Side.values()) {
            Channel channel = tunnel.channel(side);
            boolean shut = side == Side.INGRESS ? ingressOutputShut : egressOutputShut;
            if (channel != null && shut && inputOpen(channel)) {
                waiting = true;
                channel.config().setAutoRead(true);
            }
        }
        if (!waiting) {
            tunnel.close();
        } else if (linger == null) {
            linger = timers.schedule(tunnel::close, LINGER);
        }
    }

    /** Whether the peer on {@code channel} may still send: connected, and no FIN read yet. */
    private static boolean inputOpen(Channel channel) {
        return channel.isActive() && !(channel instanceof DuplexChannel duplex && duplex.isInputShutdown());
    }
}
