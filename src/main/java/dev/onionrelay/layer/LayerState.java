package dev.onionrelay.layer;

/** Life cycle of one live TLS layer, as shown in tunnel status. */
public enum LayerState {
    HANDSHAKING,
    ESTABLISHED,
    CLOSING,
    FAILED
}
