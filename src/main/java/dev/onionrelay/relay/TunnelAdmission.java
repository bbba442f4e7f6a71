package dev.onionrelay.relay;

import dev.onionrelay.layer.HandshakeFailures;
import dev.onionrelay.layer.PreparedLayer;
import dev.onionrelay.layer.Side;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import java.time.Duration;
import java.util.List;
import java.util.function.Consumer;
import org.jspecify.annotations.Nullable;

/**
 * A tunnel's side of {@link Admission}: the client proves itself by its first byte (a relay without ingress layers) or
 * by finishing the outermost ingress handshake, and only then takes a tunnel slot; a client silent past the
 * first-byte timeout is closed. Apart from {@link Tunnel} because it is the relay's flood defence, decided before the
 * tunnel has anything to relay. Event loop only.
 *
 * <p>Accepting a connection costs close to nothing: on a relay with ingress layers the TLS engines (the expensive part
 * of a set-up that has not started) are made only at the client's first byte, and a first byte that cannot start a TLS
 * handshake (0x16, a handshake record) closes the connection without any engine, counted as the {@code not_tls}
 * handshake failure of the outermost layer that the engine would have reported. A client that leaves before its first
 * byte counts as {@code peer_closed} on that layer, as it did when its engine already waited for it (a port scan, a
 * TCP health check: docs/OBSERVABILITY.md). Under a flood of silent and garbage connections, this is what keeps the
 * event loops, and so the accept queue, moving for real clients (issue 22; {@code AdmissionFloodTest}).
 */
final class TunnelAdmission implements FirstByteWatch.Listener {

    /** The record type of a TLS handshake record: a ClientHello starts with it. */
    static final int HANDSHAKE_RECORD = 0x16;

    private final Tunnel tunnel;
    private final Relay relay;
    private final RelayObserver observer;
    private final Admission.Ticket ticket;
    /** The ingress layers this tunnel was accepted with; its handshakes push them. */
    private final List<PreparedLayer> layers;

    private boolean spoken;
    /** The ingress handshakes, once the tunnel is active, while they wait for the first byte. */
    private @Nullable Consumer<List<PreparedLayer>> handshake;

    TunnelAdmission(Tunnel tunnel, Admission.Ticket ticket, RelayObserver observer) {
        this.tunnel = tunnel;
        this.relay = tunnel.relay();
        this.observer = observer;
        this.ticket = ticket;
        this.layers = tunnel.definition().ingressLayers();
    }

    /** Watches the client's first byte on {@code ingress}, first in its pipeline; the rest of admission follows. */
    void watch(Channel ingress, OnionEngine engine) {
        // With ingress layers the client speaks first (its ClientHello); without, the target may (a banner). Half the
        // outer layer's handshake timeout at most, so that a silent client never reaches that timeout instead.
        // In milliseconds: Duration.dividedBy computes in BigDecimal, a third of this constructor's CPU under a flood.
        Duration firstByteTimeout = layers.isEmpty()
                ? null
                : Duration.ofMillis(Math.min(
                        engine.settings().admission().firstByteTimeout().toMillis(),
                        layers.get(0).spec().handshakeTimeout().toMillis() / 2));
        ingress.pipeline().addFirst(FirstByteWatch.NAME, new FirstByteWatch(this, firstByteTimeout));
    }

    /**
     * Runs {@code ingressHandshakes} with the ingress layers the tunnel was accepted with: at once on a relay without
     * ingress layers, else at the client's first byte (before it, the connection has no TLS engine).
     */
    void onFirstByte(Consumer<List<PreparedLayer>> ingressHandshakes) {
        if (layers.isEmpty() || spoken) {
            ingressHandshakes.accept(layers);
        } else {
            handshake = ingressHandshakes;
        }
    }

    /**
     * The client's first byte: admission, on a relay without ingress layers; else a pending connection that spoke,
     * whose handshakes start now, unless what it sent cannot be TLS.
     */
    @Override
    public boolean firstByte(ByteBuf first) {
        spoken = true;
        if (tunnel.state() == TunnelState.CLOSED) {
            return false;
        }
        if (layers.isEmpty()) {
            admit();
            return true;
        }
        if (first.isReadable() && first.getUnsignedByte(first.readerIndex()) != HANDSHAKE_RECORD) {
            // What the outermost layer's engine would have said, without making one.
            failedBeforeHandshake(HandshakeFailures.NOT_TLS);
            tunnel.close();
            return false;
        }
        relay.admission().spoke(ticket);
        Consumer<List<PreparedLayer>> start = handshake;
        handshake = null;
        if (start != null) {
            start.accept(layers);
        }
        return true;
    }

    @Override
    public void timedOut() {
        if (tunnel.state() != TunnelState.CLOSED) {
            relay.rejected("first_byte_timeout");
            tunnel.close();
        }
    }

    /** A client that leaves before its first byte abandoned the outermost handshake; one we close did not. */
    @Override
    public void endedBeforeFirstByte() {
        if (!layers.isEmpty() && tunnel.state() != TunnelState.CLOSED) {
            failedBeforeHandshake(HandshakeFailures.PEER_CLOSED);
        }
    }

    private void failedBeforeHandshake(String reason) {
        TunnelStackEvents.recordFailure(
                relay,
                observer,
                Side.INGRESS,
                tunnel.ingressChannel().remoteAddress(),
                layers.get(0).spec().name(),
                reason,
                null);
    }

    /** An ingress handshake succeeded: the first one, the outermost, admits the client. */
    void ingressHandshakeDone() {
        if (!relay.admission().admitted(ticket)) {
            admit();
        }
    }

    /** The client proved itself (see {@link Admission}): it takes a tunnel slot, or the tunnel closes. */
    private void admit() {
        String refusal = relay.admission().admit(ticket);
        if (refusal != null) {
            if (!refusal.equals("evicted")) {
                relay.rejected(refusal);
            }
            tunnel.close();
        }
    }
}
