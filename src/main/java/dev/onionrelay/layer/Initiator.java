package dev.onionrelay.layer;

/** Who asked for a push or a pop: this service (API, configuration) or the peer (close_notify). */
public enum Initiator {
    LOCAL,
    PEER;

    public String label() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }
}
