package dev.onionrelay.relay;

import dev.onionrelay.layer.Side;
import dev.onionrelay.relay.proxy.HttpConnectRequest;
import dev.onionrelay.relay.proxy.ProxyHandshake;
import dev.onionrelay.relay.proxy.ProxyOutcome;
import dev.onionrelay.relay.proxy.Socks5Handshake;
import dev.onionrelay.relay.target.TargetSpec;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import org.jspecify.annotations.Nullable;

/**
 * The proxy modes' front: reads the client's request (one HTTP {@code CONNECT} or a SOCKS5 handshake) from the
 * plaintext inside the innermost ingress layer, bounded in size and by the handshake timeout, hands the destination
 * back to its tunnel, and answers the client once: granted when the tunnel opens, or why not. The cut is here because
 * this is the one part of a tunnel that speaks a protocol to the client before any byte is relayed; the protocols
 * themselves are {@link ProxyHandshake}s, pure and tested apart.
 *
 * <p>Bytes the client sent after its request wait with the tunnel's held bytes. Every request that started has
 * exactly one outcome, counted and audited ({@link RelayObserver#proxyRequest}), even when the tunnel closes first.
 * Event loop only.
 */
final class ProxyFront {

    private final Tunnel tunnel;
    private final TunnelTimers timers;
    private final RelayObserver observer;
    private final TunnelEnding ending;
    private final ProxyHandshake handshake;
    /** The client's splice, which holds what the client sent before and after its request. */
    private @Nullable Splice splice;
    /** The client's request bytes while it is being read. */
    private @Nullable ByteBuf request;

    private boolean awaitingRequest;
    private boolean requestStarted;
    private boolean answered;
    private volatile @Nullable Endpoint requested;

    private ProxyFront(
            Tunnel tunnel, TunnelTimers timers, RelayObserver observer, TunnelEnding ending, ProxyHandshake handshake) {
        this.tunnel = tunnel;
        this.timers = timers;
        this.observer = observer;
        this.ending = ending;
        this.handshake = handshake;
    }

    /** How the client of {@code tunnel} names its destination; null for fixed targets. */
    static @Nullable ProxyFront of(
            TargetSpec.Mode mode, Tunnel tunnel, TunnelTimers timers, RelayObserver observer, TunnelEnding ending) {
        return switch (mode) {
            case FIXED -> null;
            case CONNECT -> new ProxyFront(tunnel, timers, observer, ending, new HttpConnectRequest());
            case SOCKS5 -> new ProxyFront(tunnel, timers, observer, ending, new Socks5Handshake());
        };
    }

    /** The destination the client asked for, once its request is read. */
    @Nullable
    Endpoint requested() {
        return requested;
    }

    /** Whether the client's request is being read: what the client sends is part of it. */
    boolean reading() {
        return awaitingRequest && request != null;
    }

    /** The client ended its direction: a request still being read is refused; false when none is. */
    boolean clientEnded() {
        if (!awaitingRequest) {
            return false;
        }
        readRequest();
        return true;
    }

    /**
     * The ingress layers are up: the request is read from what the client sent so far (held by its {@code splice})
     * and from what follows, within the relay's handshake timeout.
     */
    void awaitRequest(Splice splice) {
        this.splice = splice;
        awaitingRequest = true;
        requestStarted = true;
        ByteBuf bytes = tunnel.ingressChannel().alloc().buffer();
        splice.moveHeld(bytes);
        request = bytes;
        timers.schedule(
                () -> {
                    if (awaitingRequest && tunnel.state() != TunnelState.CLOSED) {
                        refuse(handshake.timedOut(), "request not complete in time");
                    }
                },
                tunnel.definition().spec().options().handshakeTimeout());
        readRequest();
    }

    /** More of the request, taken and read; false when no request is being read. */
    boolean offer(ByteBuf buf) {
        if (!reading()) {
            return false;
        }
        request.writeBytes(buf);
        buf.release();
        readRequest();
        return true;
    }

    /** Feeds what the client sent so far to the proxy handshake and acts on what it makes of it. */
    private void readRequest() {
        ByteBuf bytes = request;
        if (!awaitingRequest || bytes == null) {
            return;
        }
        while (true) {
            ProxyHandshake.Step step = handshake.offer(bytes);
            if (step instanceof ProxyHandshake.Step.NeedMore more) {
                if (more.reply() != null) {
                    tunnel.ingressChannel().writeAndFlush(Unpooled.wrappedBuffer(more.reply()));
                    if (bytes.isReadable()) {
                        continue;
                    }
                }
                if (ending.peerEnded(Side.INGRESS)) {
                    refuse(handshake.answer(ProxyOutcome.BAD_REQUEST), "the client ended before its request");
                    return;
                }
                bytes.discardReadBytes();
                splice.setAutoRead(Side.INGRESS, true);
                return;
            }
            awaitingRequest = false;
            request = null;
            if (step instanceof ProxyHandshake.Step.Refusal refusal) {
                bytes.release();
                refuse(refusal.reply(), refusal.why());
                return;
            }
            requested = ((ProxyHandshake.Step.Destination) step).destination();
            // The client's first data may have come with its request: it waits with the held bytes.
            if (bytes.isReadable()) {
                splice.hold(bytes);
            } else {
                bytes.release();
            }
            splice.setAutoRead(Side.INGRESS, false);
            tunnel.connectTarget();
            return;
        }
    }

    private void refuse(byte @Nullable [] reply, String why) {
        awaitingRequest = false;
        releaseRequest();
        answer(ProxyOutcome.BAD_REQUEST, reply, why);
        ending.endGracefully();
    }

    /** The tunnel is open: the client learns it, with where the tunnel connected for the audit. */
    void granted(TunnelStatus.@Nullable Connected to) {
        answer(ProxyOutcome.GRANTED, "connected to " + (to != null ? to.address() : "?"));
    }

    /** Answers the client with {@code outcome} in its protocol (once per tunnel), {@code detail} for the audit. */
    void answer(ProxyOutcome outcome, String detail) {
        answer(outcome, handshake.answer(outcome), detail);
    }

    /** Counts and audits a proxy request's outcome (once per tunnel) and sends the client its answer, if any. */
    private void answer(ProxyOutcome outcome, byte @Nullable [] reply, String detail) {
        if (answered) {
            return;
        }
        answered = true;
        Endpoint destination = requested;
        Channel ingress = tunnel.ingressChannel();
        observer.proxyRequest(
                tunnel.relay(),
                TunnelStatus.address(ingress.remoteAddress()),
                handshake.mode(),
                destination != null ? destination.toString() : null,
                outcome.label(),
                detail);
        if (reply != null && ingress.isActive()) {
            ingress.writeAndFlush(Unpooled.wrappedBuffer(reply));
        }
    }

    /** The tunnel closes: a request still unanswered gets its outcome, and what was read of it is released. */
    void closed() {
        if (requestStarted && !answered) {
            // Closed before the request was answered (set-up timeout, the client left, an error): still one outcome.
            answer(
                    requested == null ? ProxyOutcome.BAD_REQUEST : ProxyOutcome.TIMEOUT,
                    null,
                    requested == null ? "closed before the request was complete" : "closed while connecting");
        }
        releaseRequest();
        awaitingRequest = false;
    }

    private void releaseRequest() {
        ByteBuf bytes = request;
        request = null;
        if (bytes != null) {
            bytes.release();
        }
    }
}
