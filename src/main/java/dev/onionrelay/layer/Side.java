package dev.onionrelay.layer;

/** Which connection of a tunnel a stack lives on: the accepted one (ingress) or the one to the target (egress). */
public enum Side {
    INGRESS,
    EGRESS;

    /** The lower-case name used in the API, in metrics and in status ("ingress", "egress"). */
    public String label() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }
}
