package dev.onionrelay.credential;

import java.io.IOException;
import java.math.BigInteger;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.security.interfaces.ECKey;
import java.security.interfaces.EdECKey;
import java.security.spec.ECGenParameterSpec;
import java.time.Clock;
import java.time.DateTimeException;
import java.time.Duration;
import java.time.Instant;
import java.time.Period;
import java.time.ZoneOffset;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Date;
import java.util.List;
import java.util.Objects;
import java.util.regex.Pattern;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x500.X500NameBuilder;
import org.bouncycastle.asn1.x500.style.BCStyle;
import org.bouncycastle.asn1.x509.AuthorityKeyIdentifier;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.asn1.x509.SubjectKeyIdentifier;
import org.bouncycastle.cert.X509v3CertificateBuilder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509ExtensionUtils;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.bouncycastle.util.IPAddress;
import org.jspecify.annotations.Nullable;

/**
 * Generates throw-away certificates for development and tests: a self-signed CA, and TLS leaf
 * certificates (server and client) issued by any CA credential that has its key.
 *
 * <p>Keys are EC P-256. Everything runs on the JDK's providers; BouncyCastle only builds the
 * certificate structures, so nothing is registered globally.
 */
public final class DevelopmentCa {

    static final String COMMON_NAME_FIELD = "generate.commonName";
    static final String VALIDITY_FIELD = "generate.validity";
    static final String ISSUER_FIELD = "generate.issuer";
    static final String DNS_NAMES_FIELD = "generate.dnsNames";
    static final String IP_ADDRESSES_FIELD = "generate.ipAddresses";
    static final String URIS_FIELD = "generate.uris";

    private static boolean isAbsoluteUri(@Nullable String value) {
        if (value == null || value.isBlank() || value.length() > 2048) {
            return false;
        }
        try {
            java.net.URI uri = new java.net.URI(value);
            return uri.getScheme() != null && uri.getRawSchemeSpecificPart() != null;
        } catch (java.net.URISyntaxException e) {
            return false;
        }
    }

    // Peers whose clock runs slightly behind must not see a certificate that is "not yet valid".
    private static final Duration BACKDATE = Duration.ofMinutes(1);
    // X.509 GeneralizedTime stops at year 9999.
    private static final Instant LATEST_NOT_AFTER = Instant.parse("9999-12-31T23:59:59Z");
    // RFC 5280 upper bound for a commonName attribute.
    private static final int MAX_COMMON_NAME_LENGTH = 64;
    // Letters, digits, '-' and '_' per label, optionally a leading wildcard label.
    private static final Pattern DNS_NAME = Pattern.compile("(\\*\\.)?[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?"
            + "(\\.[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)*\\.?");
    private static final int MAX_DNS_NAME_LENGTH = 253;
    // KeyUsage bit positions as X509Certificate.getKeyUsage reports them.
    private static final int KEY_CERT_SIGN = 5;

    private final Clock clock;
    private final SecureRandom random = new SecureRandom();

    public DevelopmentCa() {
        this(Clock.systemUTC());
    }

    public DevelopmentCa(Clock clock) {
        this.clock = clock;
    }

    /** A self-signed CA credential with a fresh EC P-256 key, valid from now for {@code validity}. */
    public Credential generateCa(String name, String commonName, Period validity) {
        X500Name subject = subjectFor(commonName);
        Instant now = now();
        Instant notAfter = notAfter(now, validity);
        KeyPair keyPair = newKeyPair();
        try {
            JcaX509ExtensionUtils extensions = new JcaX509ExtensionUtils();
            X509v3CertificateBuilder builder = new JcaX509v3CertificateBuilder(
                            subject,
                            newSerial(),
                            Date.from(now.minus(BACKDATE)),
                            Date.from(notAfter),
                            subject,
                            keyPair.getPublic())
                    .addExtension(Extension.basicConstraints, true, new BasicConstraints(true))
                    .addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.keyCertSign | KeyUsage.cRLSign))
                    .addExtension(
                            Extension.subjectKeyIdentifier,
                            false,
                            extensions.createSubjectKeyIdentifier(keyPair.getPublic()));
            X509Certificate certificate = sign(builder, keyPair.getPrivate());
            return Credential.of(name, List.of(certificate), keyPair.getPrivate(), now);
        } catch (GeneralSecurityException | IOException | OperatorCreationException e) {
            throw new IllegalStateException("cannot generate CA certificate", e);
        }
    }

    /**
     * A leaf credential for TLS servers and clients, with a fresh EC P-256 key, signed by
     * {@code issuer}; its chain is the leaf followed by the issuer's chain. The leaf never
     * outlives the issuer's certificate: a longer {@code validity} is cut to the issuer's end.
     *
     * @throws CredentialException INVALID when the issuer is not a usable CA or a name is malformed
     */
    public Credential issue(
            String name,
            Credential issuer,
            String commonName,
            List<String> dnsNames,
            List<String> ipAddresses,
            Period validity) {
        return issue(name, issuer, commonName, dnsNames, ipAddresses, List.of(), validity);
    }

    /** As above, with URI SANs too (SPIFFE IDs such as {@code spiffe://example.org/ns/web/sa/frontend}). */
    public Credential issue(
            String name,
            Credential issuer,
            String commonName,
            List<String> dnsNames,
            List<String> ipAddresses,
            List<String> uris,
            Period validity) {
        Instant now = now();
        X509Certificate issuerCertificate = requireUsableIssuer(issuer, now);
        PrivateKey issuerKey = Objects.requireNonNull(issuer.privateKey());
        X500Name subject = subjectFor(commonName);
        GeneralNames subjectAlternativeNames = subjectAlternativeNames(dnsNames, ipAddresses, uris);
        Instant notAfter = notAfter(now, validity);
        Instant issuerNotAfter = issuerCertificate.getNotAfter().toInstant();
        if (notAfter.isAfter(issuerNotAfter)) {
            notAfter = issuerNotAfter;
        }
        KeyPair keyPair = newKeyPair();
        try {
            JcaX509ExtensionUtils extensions = new JcaX509ExtensionUtils();
            // Issuer name taken from the issuer certificate as encoded, so chain building matches
            // byte for byte even for imported CAs with unusual string encodings.
            X509v3CertificateBuilder builder = new JcaX509v3CertificateBuilder(
                            issuerCertificate,
                            newSerial(),
                            Date.from(now.minus(BACKDATE)),
                            Date.from(notAfter),
                            subject,
                            keyPair.getPublic())
                    .addExtension(Extension.basicConstraints, true, new BasicConstraints(false))
                    .addExtension(
                            Extension.keyUsage,
                            true,
                            new KeyUsage(KeyUsage.digitalSignature | KeyUsage.keyEncipherment))
                    .addExtension(Extension.extendedKeyUsage, false, new ExtendedKeyUsage(new KeyPurposeId[] {
                        KeyPurposeId.id_kp_serverAuth, KeyPurposeId.id_kp_clientAuth
                    }))
                    .addExtension(
                            Extension.subjectKeyIdentifier,
                            false,
                            extensions.createSubjectKeyIdentifier(keyPair.getPublic()))
                    .addExtension(
                            Extension.authorityKeyIdentifier,
                            false,
                            new AuthorityKeyIdentifier(keyIdentifierOf(issuerCertificate, extensions)));
            if (subjectAlternativeNames.getNames().length > 0) {
                builder.addExtension(Extension.subjectAlternativeName, false, subjectAlternativeNames);
            }
            X509Certificate leaf = sign(builder, issuerKey);
            List<X509Certificate> chain = new ArrayList<>();
            chain.add(leaf);
            chain.addAll(issuer.chain());
            return Credential.of(name, chain, keyPair.getPrivate(), now);
        } catch (GeneralSecurityException | IOException | OperatorCreationException e) {
            throw new IllegalStateException("cannot issue certificate from '" + issuer.name() + "'", e);
        }
    }

    private static X509Certificate requireUsableIssuer(Credential issuer, Instant now) {
        X509Certificate certificate = issuer.leaf();
        PrivateKey key = issuer.privateKey();
        if (key == null) {
            throw CredentialException.invalid(
                    ISSUER_FIELD, "credential '" + issuer.name() + "' has no private key to sign with");
        }
        if (certificate.getBasicConstraints() < 0) {
            throw CredentialException.invalid(ISSUER_FIELD, "credential '" + issuer.name() + "' is not a CA");
        }
        boolean[] keyUsage = certificate.getKeyUsage();
        if (keyUsage != null && (keyUsage.length <= KEY_CERT_SIGN || !keyUsage[KEY_CERT_SIGN])) {
            throw CredentialException.invalid(
                    ISSUER_FIELD,
                    "credential '" + issuer.name() + "' may not sign certificates (no keyCertSign usage)");
        }
        if (now.isAfter(certificate.getNotAfter().toInstant())) {
            throw CredentialException.invalid(ISSUER_FIELD, "credential '" + issuer.name() + "' has expired");
        }
        if (signatureAlgorithmFor(key) == null) {
            throw CredentialException.invalid(
                    ISSUER_FIELD,
                    "credential '" + issuer.name() + "' has a " + key.getAlgorithm()
                            + " key, which cannot sign certificates here");
        }
        return certificate;
    }

    private static X500Name subjectFor(@Nullable String commonName) {
        if (commonName == null || commonName.isBlank()) {
            throw CredentialException.invalid(COMMON_NAME_FIELD, "commonName is required");
        }
        if (commonName.length() > MAX_COMMON_NAME_LENGTH) {
            throw CredentialException.invalid(
                    COMMON_NAME_FIELD, "commonName is longer than " + MAX_COMMON_NAME_LENGTH + " characters");
        }
        // The builder escapes the value, so a name like "a,b" stays one attribute.
        return new X500NameBuilder(BCStyle.INSTANCE)
                .addRDN(BCStyle.CN, commonName)
                .build();
    }

    private static GeneralNames subjectAlternativeNames(
            List<String> dnsNames, List<String> ipAddresses, List<String> uris) {
        List<GeneralName> names = new ArrayList<>();
        for (String dnsName : dnsNames) {
            if (dnsName == null
                    || dnsName.length() > MAX_DNS_NAME_LENGTH
                    || !DNS_NAME.matcher(dnsName).matches()) {
                throw CredentialException.invalid(DNS_NAMES_FIELD, "'" + dnsName + "' is not a DNS name");
            }
            names.add(new GeneralName(GeneralName.dNSName, dnsName));
        }
        for (String ipAddress : ipAddresses) {
            // Purely textual check: InetAddress.getByName would fall back to a DNS lookup.
            if (ipAddress == null || !IPAddress.isValid(ipAddress)) {
                throw CredentialException.invalid(IP_ADDRESSES_FIELD, "'" + ipAddress + "' is not an IP address");
            }
            names.add(new GeneralName(GeneralName.iPAddress, ipAddress));
        }
        for (String uri : uris) {
            if (!isAbsoluteUri(uri)) {
                throw CredentialException.invalid(
                        URIS_FIELD,
                        "'" + uri + "' is not an absolute URI such as spiffe://example.org/ns/web/sa/frontend");
            }
            names.add(new GeneralName(GeneralName.uniformResourceIdentifier, uri));
        }
        return new GeneralNames(names.toArray(GeneralName[]::new));
    }

    private static Instant notAfter(Instant now, @Nullable Period validity) {
        if (validity == null || validity.isZero() || validity.isNegative()) {
            throw CredentialException.invalid(VALIDITY_FIELD, "validity must be a positive period such as P30D");
        }
        Instant notAfter;
        try {
            // Through a date-time: Instant.plus rejects periods with months or years.
            notAfter = now.atOffset(ZoneOffset.UTC).plus(validity).toInstant();
        } catch (DateTimeException | ArithmeticException e) {
            notAfter = Instant.MAX;
        }
        if (notAfter.isAfter(LATEST_NOT_AFTER)) {
            throw CredentialException.invalid(VALIDITY_FIELD, "validity ends after the year 9999");
        }
        return notAfter;
    }

    // The issuer's own subject key identifier when it has one, so AKI matches it exactly.
    private static byte[] keyIdentifierOf(X509Certificate issuer, JcaX509ExtensionUtils extensions) throws IOException {
        byte[] extension = issuer.getExtensionValue(Extension.subjectKeyIdentifier.getId());
        if (extension != null) {
            return SubjectKeyIdentifier.getInstance(JcaX509ExtensionUtils.parseExtensionValue(extension))
                    .getKeyIdentifier();
        }
        PublicKey publicKey = issuer.getPublicKey();
        return extensions.createSubjectKeyIdentifier(publicKey).getKeyIdentifier();
    }

    private static X509Certificate sign(X509v3CertificateBuilder builder, PrivateKey signingKey)
            throws OperatorCreationException, GeneralSecurityException {
        String algorithm = signatureAlgorithmFor(signingKey);
        if (algorithm == null) {
            throw new IllegalArgumentException(signingKey.getAlgorithm() + " keys cannot sign certificates here");
        }
        return new JcaX509CertificateConverter()
                .getCertificate(builder.build(new JcaContentSignerBuilder(algorithm).build(signingKey)));
    }

    private static @Nullable String signatureAlgorithmFor(PrivateKey key) {
        if (key instanceof ECKey ec) {
            // Hash strength follows the curve, as TLS stacks expect (P-384 with SHA-384).
            int orderBits = ec.getParams().getOrder().bitLength();
            return orderBits > 384 ? "SHA512withECDSA" : orderBits > 256 ? "SHA384withECDSA" : "SHA256withECDSA";
        }
        if (key instanceof EdECKey ed) {
            return ed.getParams().getName(); // "Ed25519" or "Ed448"
        }
        return "RSA".equals(key.getAlgorithm()) ? "SHA256withRSA" : null;
    }

    // Certificates carry whole seconds; createdAt keeps milliseconds, like the rest of the API.
    private Instant now() {
        return clock.instant().truncatedTo(ChronoUnit.MILLIS);
    }

    private KeyPair newKeyPair() {
        try {
            KeyPairGenerator generator = KeyPairGenerator.getInstance("EC");
            generator.initialize(new ECGenParameterSpec("secp256r1"), random);
            return generator.generateKeyPair();
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("the JDK cannot generate EC P-256 keys", e);
        }
    }

    // 128 random bits with the top one set: always positive, always the same length, and far
    // above the 64 bits of entropy CAs are required to use.
    private BigInteger newSerial() {
        return new BigInteger(128, random).setBit(127);
    }
}
