package dev.onionrelay.layer.allow;

import java.security.cert.CertificateException;

/**
 * A peer whose chain the layer's trust accepted but whose identity its {@code allow} does not: the handshake fails
 * with reason {@code access_denied}.
 */
public final class PeerRefusedException extends CertificateException {

    public PeerRefusedException(String message) {
        super(message);
    }

    /** The reason value handshake statistics count for it (API.md). */
    public static final String REASON = "access_denied";
}
