package dev.onionrelay.layer;

import io.netty.handler.ssl.OpenSsl;
import io.netty.handler.ssl.SslProvider;

/** The TLS implementation layers run on, shown in status as {@code OPENSSL} or {@code JDK}. */
public enum TlsProvider {
    OPENSSL(SslProvider.OPENSSL),
    JDK(SslProvider.JDK);

    private final SslProvider netty;

    TlsProvider(SslProvider netty) {
        this.netty = netty;
    }

    SslProvider netty() {
        return netty;
    }

    /** The provider named {@code openssl} or {@code jdk} (any case); OpenSSL must be loadable. */
    public static TlsProvider named(String name) {
        return TlsProvider.valueOf(name.trim().toUpperCase(java.util.Locale.ROOT))
                .available();
    }

    /**
     * This provider, checked to be loadable here.
     *
     * @throws IllegalStateException for OpenSSL when it cannot load
     */
    public TlsProvider available() {
        if (this == OPENSSL && !OpenSsl.isAvailable()) {
            throw new IllegalStateException(
                    "the OpenSSL provider is not available here: " + OpenSsl.unavailabilityCause());
        }
        return this;
    }
}
