package dev.onionrelay.layer;

import org.jspecify.annotations.Nullable;

/**
 * A snapshot of one live layer for tunnel status.
 *
 * @param index position in the stack, 0 = outermost
 * @param handshakeMillis handshake duration, null while handshaking
 * @param failureReason the handshake failure reason, null unless {@link LayerState#FAILED}
 * @param peerSans the peer certificate's DNS, URI and IP SANs, null until the handshake is done or without one
 * @param padding {@code "on"} for a shaped layer (docs/SHAPING.md), null for a plain one
 * @param paddingBytesSent,paddingBytesReceived a shaped layer's padding and close-frame bytes each way, else null
 */
public record LayerStatus(
        int index,
        String name,
        Role role,
        LayerState state,
        @Nullable String protocol,
        @Nullable String cipher,
        @Nullable String peer,
        TlsProvider provider,
        @Nullable Long handshakeMillis,
        @Nullable String failureReason,
        @Nullable PeerSans peerSans,
        @Nullable String padding,
        @Nullable Long paddingBytesSent,
        @Nullable Long paddingBytesReceived) {}
