package dev.onionrelay.relay;

/** Life cycle of a relay's listener. */
public enum RelayState {
    LISTENING,
    FAILED,
    STOPPED
}
