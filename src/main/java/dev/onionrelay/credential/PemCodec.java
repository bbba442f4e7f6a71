package dev.onionrelay.credential;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.StringReader;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.SecureRandom;
import java.security.Signature;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.interfaces.RSAPrivateCrtKey;
import java.security.interfaces.RSAPublicKey;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.List;
import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import org.bouncycastle.openssl.PEMEncryptedKeyPair;
import org.bouncycastle.openssl.PEMKeyPair;
import org.bouncycastle.openssl.PEMParser;
import org.bouncycastle.openssl.jcajce.JcaPEMKeyConverter;
import org.bouncycastle.pkcs.PKCS8EncryptedPrivateKeyInfo;
import org.bouncycastle.util.io.pem.PemObject;
import org.bouncycastle.util.io.pem.PemReader;
import org.jspecify.annotations.Nullable;

/**
 * Reads and writes the PEM that users paste into the API and that the store keeps on disk:
 * certificate chains, and private keys in PKCS#8, PKCS#1 (RSA) or SEC1 (EC) form.
 *
 * <p>Keys and certificates come out as JDK objects (no BouncyCastle provider is registered), so
 * the TLS engine can use them directly. Errors about keys never quote the key or the parser's
 * own message, since either may echo what was pasted.
 */
public final class PemCodec {

    static final String CERTIFICATE_FIELD = "certificate";
    static final String PRIVATE_KEY_FIELD = "privateKey";

    private static final SecureRandom RANDOM = new SecureRandom();
    private static final Base64.Encoder PEM_BASE64 =
            Base64.getMimeEncoder(64, "\n".getBytes(StandardCharsets.US_ASCII));

    private PemCodec() {}

    /**
     * The certificates in {@code pem}, in the order given (for a chain: leaf first).
     *
     * @throws CredentialException INVALID on field {@code certificate} when there is no
     *     certificate, a block is not a certificate, or one does not decode
     */
    public static List<X509Certificate> parseCertificates(@Nullable String pem) {
        if (pem == null || pem.isBlank()) {
            throw CredentialException.invalid(CERTIFICATE_FIELD, "certificate is required");
        }
        List<PemObject> blocks = readPemBlocks(pem);
        CertificateFactory factory = x509Factory();
        List<X509Certificate> certificates = new ArrayList<>();
        for (PemObject block : blocks) {
            if (!block.getType().equals("CERTIFICATE")) {
                // Name the block type only: a private key pasted here must not be echoed back.
                throw CredentialException.invalid(
                        CERTIFICATE_FIELD, "expected only CERTIFICATE blocks, found '" + block.getType() + "'");
            }
            try {
                certificates.add(
                        (X509Certificate) factory.generateCertificate(new ByteArrayInputStream(block.getContent())));
            } catch (CertificateException | RuntimeException e) {
                throw CredentialException.invalid(
                        CERTIFICATE_FIELD,
                        "certificate " + (certificates.size() + 1) + " is not a valid X.509 certificate",
                        e);
            }
        }
        if (certificates.isEmpty()) {
            throw CredentialException.invalid(
                    CERTIFICATE_FIELD, "no certificate found: expected a '-----BEGIN CERTIFICATE-----' block");
        }
        return List.copyOf(certificates);
    }

    private static List<PemObject> readPemBlocks(String pem) {
        List<PemObject> blocks = new ArrayList<>();
        try (PemReader reader = new PemReader(new StringReader(pem))) {
            PemObject block;
            while ((block = reader.readPemObject()) != null) {
                blocks.add(block);
            }
        } catch (IOException | RuntimeException e) {
            // Truncated blocks surface as IOException, bad base64 as a runtime DecoderException.
            throw CredentialException.invalid(CERTIFICATE_FIELD, "certificate is not well-formed PEM", e);
        }
        return blocks;
    }

    /**
     * The one private key in {@code pem}: PKCS#8 ({@code BEGIN PRIVATE KEY}), PKCS#1
     * ({@code BEGIN RSA PRIVATE KEY}) or SEC1 ({@code BEGIN EC PRIVATE KEY}, optionally after an
     * {@code EC PARAMETERS} block). Other blocks, such as certificates, are skipped.
     *
     * @throws CredentialException INVALID on field {@code privateKey} when there is no key, more
     *     than one, the key is encrypted, or it cannot be decoded
     */
    public static PrivateKey parsePrivateKey(@Nullable String pem) {
        if (pem == null || pem.isBlank()) {
            throw CredentialException.invalid(PRIVATE_KEY_FIELD, "private key is required");
        }
        PrivateKeyInfo keyInfo = null;
        // Parser exceptions are deliberately not attached as causes anywhere below: their messages
        // may quote the decoded input, and these exceptions end up in responses and logs.
        try (PEMParser parser = new PEMParser(new StringReader(pem))) {
            Object block;
            while ((block = parser.readObject()) != null) {
                if (block instanceof PEMEncryptedKeyPair || block instanceof PKCS8EncryptedPrivateKeyInfo) {
                    throw CredentialException.invalid(PRIVATE_KEY_FIELD, "encrypted private keys are not supported");
                }
                PrivateKeyInfo candidate = null;
                if (block instanceof PEMKeyPair pair) {
                    candidate = pair.getPrivateKeyInfo(); // PKCS#1 RSA and SEC1 EC
                } else if (block instanceof PrivateKeyInfo info) {
                    candidate = info; // PKCS#8
                }
                if (candidate == null) {
                    continue; // EC PARAMETERS before a SEC1 key, or a certificate sharing the file
                }
                if (keyInfo != null) {
                    throw CredentialException.invalid(PRIVATE_KEY_FIELD, "expected one private key, found several");
                }
                keyInfo = candidate;
            }
        } catch (CredentialException e) {
            throw e;
        } catch (IOException | RuntimeException e) {
            throw CredentialException.invalid(
                    PRIVATE_KEY_FIELD,
                    "private key is not a readable PEM key (expected PKCS#8, PKCS#1 RSA or SEC1 EC)");
        }
        if (keyInfo == null) {
            throw CredentialException.invalid(
                    PRIVATE_KEY_FIELD, "no private key found: expected a '-----BEGIN PRIVATE KEY-----' block");
        }
        try {
            // No provider set: the JDK's key factories, so the TLS engine gets keys it knows.
            return new JcaPEMKeyConverter().getPrivateKey(keyInfo);
        } catch (IOException | RuntimeException e) {
            throw CredentialException.invalid(
                    PRIVATE_KEY_FIELD,
                    "unsupported private key (algorithm "
                            + keyInfo.getPrivateKeyAlgorithm().getAlgorithm().getId() + ")");
        }
    }

    /**
     * Whether {@code privateKey} belongs to the public key in {@code certificate}: proved by
     * signing a random challenge and verifying it with the certificate, so a key of the wrong
     * type, curve or value never matches.
     */
    public static boolean matches(PrivateKey privateKey, X509Certificate certificate) {
        PublicKey publicKey = certificate.getPublicKey();
        if (privateKey instanceof RSAPrivateCrtKey rsa
                && publicKey instanceof RSAPublicKey rsaPublic
                && rsa.getAlgorithm().equals("RSASSA-PSS")) {
            // PSS-restricted keys need parameters to sign with; the public half is in the CRT key.
            return rsa.getModulus().equals(rsaPublic.getModulus())
                    && rsa.getPublicExponent().equals(rsaPublic.getPublicExponent());
        }
        String algorithm = challengeSignatureAlgorithm(privateKey);
        if (algorithm == null) {
            return false;
        }
        byte[] challenge = new byte[32];
        RANDOM.nextBytes(challenge);
        try {
            Signature signer = Signature.getInstance(algorithm);
            signer.initSign(privateKey);
            signer.update(challenge);
            byte[] signature = signer.sign();
            Signature verifier = Signature.getInstance(algorithm);
            verifier.initVerify(publicKey);
            verifier.update(challenge);
            return verifier.verify(signature);
        } catch (GeneralSecurityException | RuntimeException e) {
            // A key of another type or curve fails here rather than verifying false.
            return false;
        }
    }

    private static @Nullable String challengeSignatureAlgorithm(PrivateKey key) {
        return switch (key.getAlgorithm()) {
            case "RSA" -> "SHA256withRSA";
            case "EC", "ECDSA" -> "SHA256withECDSA";
            case "EdDSA", "Ed25519", "Ed448" -> key.getAlgorithm();
            case "DSA" -> "SHA256withDSA";
            default -> null;
        };
    }

    /** The certificates as concatenated {@code CERTIFICATE} blocks, in order. */
    public static String certificatesToPem(List<X509Certificate> certificates) {
        StringBuilder pem = new StringBuilder();
        for (X509Certificate certificate : certificates) {
            try {
                appendBlock(pem, "CERTIFICATE", certificate.getEncoded());
            } catch (CertificateException e) {
                throw new IllegalArgumentException("certificate cannot be encoded", e);
            }
        }
        return pem.toString();
    }

    /** The key as an unencrypted PKCS#8 {@code PRIVATE KEY} block. */
    public static String privateKeyToPem(PrivateKey privateKey) {
        byte[] der = privateKey.getEncoded();
        if (der == null || !"PKCS#8".equals(privateKey.getFormat())) {
            throw new IllegalArgumentException(privateKey.getAlgorithm() + " private key cannot be exported as PKCS#8");
        }
        StringBuilder pem = new StringBuilder();
        appendBlock(pem, "PRIVATE KEY", der);
        // getEncoded returns a fresh copy; do not leave it lying in the heap longer than needed.
        Arrays.fill(der, (byte) 0);
        return pem.toString();
    }

    private static void appendBlock(StringBuilder pem, String type, byte[] der) {
        pem.append("-----BEGIN ").append(type).append("-----\n");
        pem.append(PEM_BASE64.encodeToString(der)).append('\n');
        pem.append("-----END ").append(type).append("-----\n");
    }

    private static CertificateFactory x509Factory() {
        try {
            return CertificateFactory.getInstance("X.509");
        } catch (CertificateException e) {
            throw new IllegalStateException("the JDK has no X.509 certificate factory", e);
        }
    }
}
