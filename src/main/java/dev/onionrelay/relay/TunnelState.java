package dev.onionrelay.relay;

/** Life cycle of one tunnel. */
public enum TunnelState {
    /** Ingress handshakes running. */
    HANDSHAKING,
    /** Connecting to the target and running the egress handshakes; client bytes are held. */
    CONNECTING,
    /** Bytes flow both ways. */
    OPEN,
    /** One direction has ended, the other still flows. */
    HALF_CLOSED,
    CLOSED
}
