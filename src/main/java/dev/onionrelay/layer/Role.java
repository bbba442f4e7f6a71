package dev.onionrelay.layer;

/** The TLS role this side plays in one layer. */
public enum Role {
    CLIENT,
    SERVER
}
