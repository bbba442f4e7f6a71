package dev.onionrelay.credential;

import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.cert.CertificateEncodingException;
import java.security.cert.CertificateParsingException;
import java.security.cert.X509Certificate;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import javax.security.auth.x500.X500Principal;
import org.jspecify.annotations.Nullable;

/**
 * The public description of a credential, as returned by the API: names, validity and
 * fingerprints of the leaf certificate, never key material.
 *
 * @param kind {@code "identity"} or {@code "trust"}
 * @param subject the leaf's subject in RFC 2253 form, e.g. {@code CN=h1}
 * @param serial the leaf's serial number in lowercase hex
 * @param sha256 lowercase hex SHA-256 of the leaf's DER encoding, as {@code openssl x509 -fingerprint}
 * @param version 1 when created, one more with every rotation
 * @param rotatedAt when it was last rotated in place; null if never
 */
public record CredentialInfo(
        String name,
        String kind,
        String subject,
        String issuer,
        String serial,
        Instant notBefore,
        Instant notAfter,
        String sha256,
        List<String> dnsNames,
        List<String> ipAddresses,
        boolean hasPrivateKey,
        List<String> uris,
        long version,
        @Nullable Instant rotatedAt) {

    // GeneralName tags from RFC 5280, as X509Certificate.getSubjectAlternativeNames reports them.
    private static final int DNS_NAME = 2;
    private static final int IP_ADDRESS = 7;
    private static final int URI = 6;

    public CredentialInfo {
        dnsNames = List.copyOf(dnsNames);
        ipAddresses = List.copyOf(ipAddresses);
        uris = List.copyOf(uris);
    }

    public static CredentialInfo of(Credential credential) {
        X509Certificate leaf = credential.leaf();
        return new CredentialInfo(
                credential.name(),
                credential.kind().name().toLowerCase(Locale.ROOT),
                leaf.getSubjectX500Principal().getName(X500Principal.RFC2253),
                leaf.getIssuerX500Principal().getName(X500Principal.RFC2253),
                leaf.getSerialNumber().toString(16),
                leaf.getNotBefore().toInstant(),
                leaf.getNotAfter().toInstant(),
                sha256(leaf),
                subjectAlternativeNames(leaf, DNS_NAME),
                subjectAlternativeNames(leaf, IP_ADDRESS),
                credential.hasPrivateKey(),
                subjectAlternativeNames(leaf, URI),
                credential.version(),
                credential.rotatedAt());
    }

    private static String sha256(X509Certificate certificate) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(certificate.getEncoded()));
        } catch (NoSuchAlgorithmException | CertificateEncodingException e) {
            // Every JDK ships SHA-256, and a certificate we hold was decoded from its encoding.
            throw new IllegalStateException("cannot fingerprint certificate", e);
        }
    }

    private static List<String> subjectAlternativeNames(X509Certificate certificate, int type) {
        Collection<List<?>> names;
        try {
            names = certificate.getSubjectAlternativeNames();
        } catch (CertificateParsingException e) {
            // A malformed SAN extension is the peer verifier's problem; the description just omits it.
            return List.of();
        }
        if (names == null) {
            return List.of();
        }
        List<String> values = new ArrayList<>();
        for (List<?> entry : names) {
            if (entry.size() >= 2
                    && entry.get(0) instanceof Integer tag
                    && tag == type
                    && entry.get(1) instanceof String value) {
                values.add(value);
            }
        }
        return values;
    }
}
