package dev.onionrelay.layer;

/** Whether a server layer asks its client for a certificate. */
public enum ClientAuthMode {
    NONE,
    OPTIONAL,
    REQUIRE
}
