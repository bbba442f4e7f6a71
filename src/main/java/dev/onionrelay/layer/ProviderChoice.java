package dev.onionrelay.layer;

import io.netty.handler.ssl.OpenSsl;

/**
 * Which TLS engine each layer runs on ({@code onion.tls.provider}): {@code auto}, the default, chooses per layer; {@code
 * jdk} and {@code openssl} put every layer on that engine.
 *
 * <p>With {@code auto} a layer runs on OpenSSL when a close_notify it receives can only pop it, and on the JDK engine
 * when that close_notify may end the peer's direction while we keep sending. Netty's OpenSSL engine answers every
 * close_notify it receives with its own and stops sending, which is exactly a pop, but would lose the rest of the
 * answer after an end of direction. Which layers may see an end of direction follows from the stack's rules:
 *
 * <ul>
 *   <li>a close_notify on the innermost layer at the side's minimum depth ends the peer's direction;
 *   <li>a peer that ends its direction cleanly then closes every layer outside it too, innermost first (this service
 *       does so itself), and the answer still has to travel out through all of them: so every layer below the minimum
 *       depth (index {@code < minDepth}) must keep sending after a close_notify;
 *   <li>a layer at or above the minimum depth (index {@code >= minDepth}: configured above an explicit lower {@code
 *       minDepth}, or pushed on a live tunnel) pops on a close_notify while innermost, and any close_notify under
 *       open inner layers closes the tunnel. Its index never changes while it is in the stack (only the innermost
 *       layer leaves), so the choice made when it is prepared holds for its whole life.
 * </ul>
 *
 * Where OpenSSL cannot load, {@code auto} runs every layer on the JDK engine.
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
            case AUTO -> index >= minDepth && OpenSsl.isAvailable() ? TlsProvider.OPENSSL : TlsProvider.JDK;
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
