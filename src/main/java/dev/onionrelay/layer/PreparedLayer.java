package dev.onionrelay.layer;

import io.netty.handler.ssl.SslContext;

/**
 * A layer spec with its TLS context built once, ready to be pushed onto any number of connections.
 */
public record PreparedLayer(LayerSpec spec, SslContext context, TlsProvider provider) {}
