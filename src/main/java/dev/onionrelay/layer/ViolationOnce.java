package dev.onionrelay.layer;

import java.time.Duration;

/**
 * Passes a stack's events on to its owner, a protocol violation only the first time. A violation closes the tunnel,
 * but the rest of the read that brought it is still decoded: a peer that closes every layer of a stack whose innermost
 * layer it never started (a pushed layer whose other end was never pushed) sends one close_notify per layer in one
 * read, and each would be another violation, another WARN line and another count for the same tunnel.
 */
final class ViolationOnce implements StackListener {

    private final StackListener owner;
    /** Touched on the channel's event loop only. */
    private boolean reported;

    ViolationOnce(StackListener owner) {
        this.owner = owner;
    }

    @Override
    public void protocolViolation(LayerStack stack, String what) {
        if (!reported) {
            reported = true;
            owner.protocolViolation(stack, what);
        }
    }

    @Override
    public void handshakeSucceeded(LayerStack stack, Layer layer, Duration took) {
        owner.handshakeSucceeded(stack, layer, took);
    }

    @Override
    public void handshakeFailed(LayerStack stack, Layer layer, String reason, Throwable cause) {
        owner.handshakeFailed(stack, layer, reason, cause);
    }

    @Override
    public void handshakeNotStarted(LayerStack stack, String layer, String reason, Throwable cause) {
        owner.handshakeNotStarted(stack, layer, reason, cause);
    }

    @Override
    public void pushed(LayerStack stack, Layer layer, Initiator initiator) {
        owner.pushed(stack, layer, initiator);
    }

    @Override
    public void popped(LayerStack stack, Layer layer, Initiator initiator) {
        owner.popped(stack, layer, initiator);
    }

    @Override
    public void paddingSent(LayerStack stack, long bytes) {
        owner.paddingSent(stack, bytes);
    }

    @Override
    public void inboundEnded(LayerStack stack) {
        owner.inboundEnded(stack);
    }
}
