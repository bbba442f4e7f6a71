package dev.onionrelay.layer;

import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.util.Collection;
import java.util.List;

/**
 * Where layers get their keys and trust from, by credential name. The engine only sees this interface; the
 * credential store implements it.
 */
public interface KeyMaterial {

    /** The certificate chain (leaf first) and private key of an identity credential. */
    Identity identity(String credentialName) throws LayerConfigurationException;

    /** The CA certificates of a trust (or identity) credential. */
    List<X509Certificate> trustAnchors(String credentialName) throws LayerConfigurationException;

    /**
     * Marks the credentials a relay's layers name as used by it ({@code holder}: the relay's id, {@code holderName}:
     * its name) so that they cannot be deleted until {@link #release}. A source whose credentials cannot be deleted
     * need not track this.
     */
    default void hold(String holder, String holderName, Collection<String> credentialNames) {}

    /**
     * Like {@link #hold(String, String, Collection)}, also saying which of the names the relay's layers present (as
     * their identity), so that such a credential is not rotated into one without a key while they do.
     */
    default void hold(
            String holder, String holderName, Collection<String> credentialNames, Collection<String> presented) {
        hold(holder, holderName, credentialNames);
    }

    /** Lets go of what {@code holder} holds. */
    default void release(String holder) {}

    /** Key and chain of an identity. {@link #toString()} never shows the key. */
    record Identity(PrivateKey privateKey, List<X509Certificate> chain) {
        public Identity {
            chain = List.copyOf(chain);
        }

        @Override
        public String toString() {
            return "Identity[" + chain.get(0).getSubjectX500Principal().getName() + "]";
        }
    }
}
