package dev.onionrelay.layer;

import java.security.cert.X509Certificate;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * The subject alternative names of a layer's peer, as tunnel status shows them beside {@code peer}: what a layer's
 * {@code allow} matched (or would match) against.
 */
public record PeerSans(List<String> dnsNames, List<String> uris, List<String> ipAddresses) {

    public PeerSans {
        dnsNames = List.copyOf(dnsNames);
        uris = List.copyOf(uris);
        ipAddresses = List.copyOf(ipAddresses);
    }

    /** The SANs of {@code leaf}; null for no certificate. */
    static @Nullable PeerSans of(@Nullable X509Certificate leaf) {
        if (leaf == null) {
            return null;
        }
        dev.onionrelay.layer.allow.PeerIdentity identity = dev.onionrelay.layer.allow.PeerIdentity.of(leaf);
        return new PeerSans(identity.dnsNames(), identity.uris(), identity.ipAddresses());
    }
}
