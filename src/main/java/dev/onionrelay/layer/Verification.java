package dev.onionrelay.layer;

/** How a layer checks its peer's certificate. */
public enum Verification {
    /** Chain to a trusted CA and, for clients, the server name. */
    FULL,
    /** Chain to a trusted CA only. */
    CHAIN,
    /** Accept any certificate. Only allowed when policy says so. */
    NONE
}
