package dev.onionrelay.relay;

import dev.onionrelay.layer.PreparedLayer;
import io.netty.channel.Channel;
import java.time.Duration;
import java.util.List;

/**
 * A tunnel's side of {@link Admission}: the client proves itself by its first byte (a relay without ingress layers) or
 * by finishing the outermost ingress handshake, and only then takes a tunnel slot; a client silent past the
 * first-byte timeout is closed. Apart from {@link Tunnel} because it is the relay's flood defence, decided before the
 * tunnel has anything to relay. Event loop only.
 */
final class TunnelAdmission {

    private final Tunnel tunnel;
    private final Relay relay;
    private final Admission.Ticket ticket;

    TunnelAdmission(Tunnel tunnel, Admission.Ticket ticket) {
        this.tunnel = tunnel;
        this.relay = tunnel.relay();
        this.ticket = ticket;
    }

    /** Watches the client's first byte on {@code ingress}, first in its pipeline; the rest of admission follows. */
    void watch(Channel ingress, OnionEngine engine) {
        List<PreparedLayer> layers = tunnel.definition().ingressLayers();
        // With ingress layers the client speaks first (its ClientHello); without, the target may (a banner). Half the
        // outer layer's handshake timeout at most, so that a silent client never reaches that timeout instead.
        Duration firstByteTimeout = layers.isEmpty()
                ? null
                : min(
                        engine.settings().admission().firstByteTimeout(),
                        layers.get(0).spec().handshakeTimeout().dividedBy(2));
        ingress.pipeline()
                .addFirst(
                        FirstByteWatch.NAME,
                        new FirstByteWatch(this::firstByteArrived, firstByteTimeout, this::firstByteTimedOut));
    }

    private static Duration min(Duration a, Duration b) {
        return a.compareTo(b) <= 0 ? a : b;
    }

    /** The client's first byte: admission, on a relay without ingress layers; else a pending connection that spoke. */
    private void firstByteArrived() {
        if (tunnel.definition().ingressLayers().isEmpty()) {
            admit();
        } else {
            relay.admission().spoke(ticket);
        }
    }

    private void firstByteTimedOut() {
        if (tunnel.state() != TunnelState.CLOSED) {
            relay.rejected("first_byte_timeout");
            tunnel.close();
        }
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
