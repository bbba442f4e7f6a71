package dev.onionrelay.layer.shaping;

import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLParameters;

/**
 * ALPN for a shaped layer on the JDK engine, set on the engine itself rather than through Netty's
 * {@code ApplicationProtocolConfig}: Netty's JDK wrapper lets a server handshake finish without a protocol and fails
 * only afterwards, without an alert, while the JDK's own selector answers a client that offers other protocols with
 * the no_application_protocol alert, as BoringSSL does through Netty's config.
 */
public final class ShapedAlpn {

    private ShapedAlpn() {}

    /** Offers (client) or accepts (server) only {@link ShapedFrames#ALPN} on {@code engine}. */
    public static void onJdkEngine(SSLEngine engine) {
        SSLParameters parameters = engine.getSSLParameters();
        parameters.setApplicationProtocols(new String[] {ShapedFrames.ALPN});
        engine.setSSLParameters(parameters);
        if (!engine.getUseClientMode()) {
            // null: the JDK fails the handshake with no_application_protocol.
            engine.setHandshakeApplicationProtocolSelector(
                    (ignored, offered) -> offered.contains(ShapedFrames.ALPN) ? ShapedFrames.ALPN : null);
        }
    }

    /** Whether {@code engine} negotiated the shaped protocol: a peer that offers no ALPN at all did not. */
    public static boolean negotiated(SSLEngine engine) {
        return ShapedFrames.ALPN.equals(engine.getApplicationProtocol());
    }
}
