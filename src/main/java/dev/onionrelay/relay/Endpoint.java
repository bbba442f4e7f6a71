package dev.onionrelay.relay;

import java.util.Objects;

/** A host and port: where a relay listens or where its target is. */
public record Endpoint(String host, int port) {
    public Endpoint {
        Objects.requireNonNull(host, "host");
    }

    @Override
    public String toString() {
        return host.contains(":") ? "[" + host + "]:" + port : host + ":" + port;
    }
}
