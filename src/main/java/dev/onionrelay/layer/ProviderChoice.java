package dev.onionrelay.layer;

import io.netty.handler.ssl.OpenSsl;
import org.jspecify.annotations.Nullable;

/**
 * Which TLS engine each layer runs on ({@code onion.tls.provider}): {@code auto}, the default, chooses per layer; {@code
 * jdk} and {@code openssl} put every layer on that engine.
 *
 * <p>With {@code auto} a layer runs on OpenSSL (BoringSSL, through netty-tcnative): it sets tunnels up for a fraction
 * of the JDK engine's CPU and carries bytes for less. Every layer must also keep half-close: a peer that ends its
 * direction at the minimum depth closes every layer, innermost first, and the answer still travels out through all of
 * them, so each layer's engine must keep sending after a close_notify it received. BoringSSL does, under TLS 1.3 and
 * 1.2; Netty's engine around it would answer the close_notify and stop, which {@link OpenSslHalfClose} switches off.
 * The JDK engine runs a layer instead:
 *
 * <ul>
 *   <li>when BoringSSL cannot do what the layer asks ({@link TlsContexts#openSslCarries}): an Ed25519 or Ed448 key,
 *       or TLS 1.3 with only some of its cipher suites (BoringSSL always offers all three);
 *   <li>when OpenSSL cannot load, or its half-close cannot be set up ({@link OpenSslHalfClose#available()}): then
 *       only layers at or above the side's minimum depth run on OpenSSL, since those are popped by a close_notify
 *       (closing both directions of that layer is exactly right there) and never see an end of direction.
 * </ul>
 */
public enum ProviderChoice {
    AUTO,
    JDK,
    OPENSSL;

    /** The choice that puts every layer on {@code provider}. */
    public static ProviderChoice of(TlsProvider provider) {
        return provider == TlsProvider.OPENSSL ? OPENSSL : JDK;
    }

    /**
     * This choice, checked to be usable here.
     *
     * @throws IllegalStateException for {@code openssl} when OpenSSL cannot load
     */
    public ProviderChoice available() {
        if (this == OPENSSL) {
            TlsProvider.OPENSSL.available();
        }
        return this;
    }

    /** The engine of the layer at {@code index} (0 = outermost) of a side whose minimum depth is {@code minDepth}. */
    public TlsProvider forLayer(int index, int minDepth) {
        return switch (this) {
            case JDK -> TlsProvider.JDK;
            case OPENSSL -> TlsProvider.OPENSSL;
            case AUTO ->
                OpenSslHalfClose.available() || index >= minDepth && OpenSsl.isAvailable()
                        ? TlsProvider.OPENSSL
                        : TlsProvider.JDK;
        };
    }

    /**
     * As {@link #forLayer(int, int)} for a layer that OpenSSL can carry as configured or not (see {@link
     * TlsContexts#openSslCarries}): {@code auto} keeps one it cannot on the JDK engine.
     */
    public TlsProvider forLayer(int index, int minDepth, boolean openSslCarries) {
        TlsProvider chosen = forLayer(index, minDepth);
        return this == AUTO && chosen == TlsProvider.OPENSSL && !openSslCarries ? TlsProvider.JDK : chosen;
    }

    /**
     * What to warn about at start when this choice loses something because OpenSSL half-close cannot be set up here
     * ({@code halfCloseAvailable} false, for the reason {@code why}), or empty. {@code auto} falls back to the JDK
     * engine below the minimum depth and only runs slower; a forced {@code openssl} keeps every layer on OpenSSL, so
     * layers below the minimum depth lose half-close: after a peer ends its direction there, the answer can no longer
     * travel out through them (a server's response after the client's end of request is lost).
     */
    public java.util.Optional<String> halfCloseWarning(boolean halfCloseAvailable, @Nullable Throwable why) {
        if (halfCloseAvailable) {
            return java.util.Optional.empty();
        }
        return switch (this) {
            case JDK -> java.util.Optional.empty();
            case AUTO ->
                java.util.Optional.of("onion.tls.provider=auto cannot keep half-close on OpenSSL here (" + why
                        + "): layers below the minimum depth run on the slower JDK engine");
            case OPENSSL ->
                java.util.Optional.of("onion.tls.provider=openssl is forced but OpenSSL half-close cannot be set up"
                        + " here (" + why + "): layers below the minimum depth LOSE HALF-CLOSE; when a peer ends its"
                        + " direction, the other direction stops too and what it still carried is lost. Use"
                        + " onion.tls.provider=auto (or jdk) to keep half-close");
        };
    }

    /** The choice for tests and tools: {@code -Donion.tls.provider=auto|openssl|jdk}, else {@link #AUTO}. */
    public static ProviderChoice fromSystemProperty() {
        String forced = System.getProperty("onion.tls.provider");
        return forced == null || forced.isBlank()
                ? AUTO
                : valueOf(forced.trim().toUpperCase(java.util.Locale.ROOT)).available();
    }
}
