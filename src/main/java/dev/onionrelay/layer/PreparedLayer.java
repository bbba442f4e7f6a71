package dev.onionrelay.layer;

import dev.onionrelay.layer.allow.AllowingTrustManager;
import io.netty.handler.ssl.SslContext;
import org.jspecify.annotations.Nullable;

/**
 * A layer spec with its TLS context built once, ready to be pushed onto any number of connections.
 *
 * @param allow the trust manager that applies the layer's {@code allow}, or null for a layer without one
 */
public record PreparedLayer(
        LayerSpec spec,
        SslContext context,
        TlsProvider provider,
        @Nullable AllowingTrustManager allow) {

    public PreparedLayer(LayerSpec spec, SslContext context, TlsProvider provider) {
        this(spec, context, provider, null);
    }
}
