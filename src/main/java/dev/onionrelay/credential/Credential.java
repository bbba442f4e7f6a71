package dev.onionrelay.credential;

import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.time.Instant;
import java.util.List;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * A named certificate chain, optionally with the private key of its first (leaf) certificate.
 *
 * <p>With a key it is an {@link Kind#IDENTITY} a TLS layer can present; without, a {@link Kind#TRUST}
 * credential whose certificates a layer uses to verify its peer.
 *
 * @param chain leaf first, then the certificates that issued it, in order; never empty
 * @param privateKey the key of {@code chain.get(0)}; null for trust credentials
 * @param version 1 when created, one more with every rotation ({@link #rotatedTo})
 * @param rotatedAt when the material was last replaced in place; null until the first rotation
 */
public record Credential(
        String name,
        Kind kind,
        List<X509Certificate> chain,
        @Nullable PrivateKey privateKey,
        Instant createdAt,
        long version,
        @Nullable Instant rotatedAt) {

    /** Whether a credential can be presented (identity) or only used to verify peers (trust). */
    public enum Kind {
        IDENTITY,
        TRUST
    }

    public Credential {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(kind, "kind");
        Objects.requireNonNull(createdAt, "createdAt");
        if (version < 1) {
            throw new IllegalArgumentException(
                    "credential '" + name + "' has version " + version + "; versions start at 1");
        }
        chain = List.copyOf(chain);
        if (chain.isEmpty()) {
            throw new IllegalArgumentException("credential '" + name + "' needs at least one certificate");
        }
        // The kind is derivable from the key; insisting they agree keeps a TRUST credential from
        // ever carrying a key (and an IDENTITY from lacking one) whoever constructs it.
        if ((kind == Kind.IDENTITY) != (privateKey != null)) {
            throw new IllegalArgumentException("credential '" + name + "' is " + kind
                    + (privateKey == null ? " but has no private key" : " but has a private key"));
        }
    }

    /** A credential as created: version 1, never rotated. */
    public Credential(
            String name, Kind kind, List<X509Certificate> chain, @Nullable PrivateKey privateKey, Instant createdAt) {
        this(name, kind, chain, privateKey, createdAt, 1, null);
    }

    /**
     * This credential's name and creation time with {@code replacement}'s material (kind, chain, key): the next
     * version, rotated at {@code at}. How a credential changes in place; relays that use it pick it up by name.
     */
    public Credential rotatedTo(Credential replacement, Instant at) {
        return new Credential(
                name, replacement.kind(), replacement.chain(), replacement.privateKey(), createdAt, version + 1, at);
    }

    /** A credential whose kind follows from whether a key is given. */
    public static Credential of(
            String name, List<X509Certificate> chain, @Nullable PrivateKey privateKey, Instant createdAt) {
        return new Credential(name, privateKey == null ? Kind.TRUST : Kind.IDENTITY, chain, privateKey, createdAt);
    }

    /** The certificate this credential is about: the one the private key belongs to. */
    public X509Certificate leaf() {
        return chain.get(0);
    }

    public boolean hasPrivateKey() {
        return privateKey != null;
    }

    /**
     * Certificates a peer may chain up to when this credential is used as trust: all of them, so
     * that trusting an intermediate-plus-root bundle works whichever one signed the peer.
     */
    public List<X509Certificate> trustAnchors() {
        return chain;
    }

    /** What the API may show about this credential: never key material. */
    public CredentialInfo info() {
        return CredentialInfo.of(this);
    }

    // Records print every component; this one must never put the private key in a log line.
    @Override
    public String toString() {
        return "Credential[name=" + name
                + ", kind=" + kind
                + ", subject=" + leaf().getSubjectX500Principal().getName()
                + ", certificates=" + chain.size()
                + ", privateKey=" + (privateKey == null ? "none" : "<redacted>")
                + ", createdAt=" + createdAt
                + ", version=" + version
                + "]";
    }
}
