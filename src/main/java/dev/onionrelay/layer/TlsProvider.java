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

    /**
     * The engine when one must serve every layer: the JDK engine. Netty's OpenSSL engine closes its outbound side as
     * soon as it receives close_notify (ReferenceCountedOpenSslEngine.closeAll), which breaks the TLS 1.3 half-close
     * that the end of a direction at the minimum depth relies on: the rest of a response would be lost. The service's
     * default chooses per layer instead ({@link ProviderChoice#AUTO}).
     */
    public static TlsProvider defaultProvider() {
        return JDK;
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

    /** The provider for tests and tools: {@code -Donion.tls.provider=openssl|jdk}, else {@link #defaultProvider()}. */
    public static TlsProvider fromSystemProperty() {
        String forced = System.getProperty("onion.tls.provider");
        return forced == null || forced.isBlank() ? defaultProvider() : named(forced);
    }
}
