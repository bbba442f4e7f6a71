package dev.onionrelay.layer;

import java.time.Duration;

/**
 * What a {@link LayerStack} tells its owner (the tunnel). Called on the channel's event loop.
 */
public interface StackListener {

    default void handshakeSucceeded(LayerStack stack, Layer layer, Duration took) {}

    /**
     * The handshake of {@code layer} failed, counted once. Netty closes the channel; when only the alert we send can
     * name the failure, this comes one event-loop task later, once that alert is on the wire.
     */
    default void handshakeFailed(LayerStack stack, Layer layer, String reason, Throwable cause) {}

    /** The handshake of the layer named {@code layer} could not start: no engine, nothing on the wire. */
    default void handshakeNotStarted(LayerStack stack, String layer, String reason, Throwable cause) {}

    default void pushed(LayerStack stack, Layer layer, Initiator initiator) {}

    default void popped(LayerStack stack, Layer layer, Initiator initiator) {}

    /** A shaped layer of {@code stack} sent {@code bytes} of padding and close frames (docs/SHAPING.md). */
    default void paddingSent(LayerStack stack, long bytes) {}

    /**
     * The peer closed the innermost layer at the minimum depth: the inbound direction of this side has ended
     * (end of direction at the minimum depth), nothing more will be read from it.
     */
    default void inboundEnded(LayerStack stack) {}

    /** The peer broke the stack rules (close_notify on a layer that is not innermost): the tunnel must close. */
    default void protocolViolation(LayerStack stack, String what) {}
}
