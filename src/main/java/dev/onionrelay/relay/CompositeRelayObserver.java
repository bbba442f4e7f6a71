package dev.onionrelay.relay;

import dev.onionrelay.layer.Initiator;
import dev.onionrelay.layer.Side;
import java.net.SocketAddress;
import java.time.Duration;
import java.util.List;
import org.jspecify.annotations.Nullable;

/** Hands every engine event to each observer bean (metrics, logging), in order. */
public final class CompositeRelayObserver implements RelayObserver {

    private final List<RelayObserver> observers;

    private CompositeRelayObserver(List<RelayObserver> observers) {
        this.observers = List.copyOf(observers);
    }

    public static RelayObserver of(List<RelayObserver> observers) {
        return observers.isEmpty()
                ? RelayObserver.NONE
                : observers.size() == 1 ? observers.get(0) : new CompositeRelayObserver(observers);
    }

    @Override
    public void tunnelOpened(Relay relay, Tunnel tunnel) {
        observers.forEach(o -> o.tunnelOpened(relay, tunnel));
    }

    @Override
    public void tunnelClosed(Relay relay, Tunnel tunnel) {
        observers.forEach(o -> o.tunnelClosed(relay, tunnel));
    }

    @Override
    public void tunnelRejected(Relay relay, String reason) {
        observers.forEach(o -> o.tunnelRejected(relay, reason));
    }

    @Override
    public void handshakeSucceeded(Relay relay, Side side, String layer, Duration took) {
        observers.forEach(o -> o.handshakeSucceeded(relay, side, layer, took));
    }

    @Override
    public void handshakeFailed(Relay relay, Side side, String layer, String reason, SocketAddress peer) {
        observers.forEach(o -> o.handshakeFailed(relay, side, layer, reason, peer));
    }

    @Override
    public void layerPushed(Relay relay, Side side, Initiator initiator) {
        observers.forEach(o -> o.layerPushed(relay, side, initiator));
    }

    @Override
    public void layerPopped(Relay relay, Side side, Initiator initiator) {
        observers.forEach(o -> o.layerPopped(relay, side, initiator));
    }

    @Override
    public void paddingSent(Relay relay, Side side, long bytes) {
        observers.forEach(o -> o.paddingSent(relay, side, bytes));
    }

    @Override
    public void connectFailed(Relay relay, String reason) {
        observers.forEach(o -> o.connectFailed(relay, reason));
    }

    @Override
    public void protocolViolation(Relay relay, Side side, String what) {
        observers.forEach(o -> o.protocolViolation(relay, side, what));
    }

    @Override
    public void proxyRequest(
            Relay relay, String client, String mode, @Nullable String destination, String outcome, String detail) {
        observers.forEach(o -> o.proxyRequest(relay, client, mode, destination, outcome, detail));
    }

    @Override
    public void targetConnect(Relay relay, int index, String outcome) {
        observers.forEach(o -> o.targetConnect(relay, index, outcome));
    }
}
