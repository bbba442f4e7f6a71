package dev.onionrelay.layer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.catchThrowable;

import java.math.BigInteger;
import java.net.Socket;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.cert.CertPathValidatorException;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Date;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.TrustManager;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509ExtensionUtils;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The pinned-trust check that the JDK leaves out: a chain to a pinned anchor passes, but an anchor outside its
 * validity period is refused with {@link CertPathValidatorException.BasicReason#EXPIRED} or {@code NOT_YET_VALID}
 * (what becomes the {@code certificate_expired} alert), whether the peer sends the anchor itself, sends it at the end
 * of its chain, or only ends its chain at it. Another CA that merely has the anchor's subject name is not taken for
 * it, in either direction. Client and server checks, through every overload, and through a real JDK handshake.
 * Certificates are built in memory with arbitrary dates; no process, no socket.
 */
class ValidAnchorsTrustManagerTest {

    private static final Instant NOW = Instant.now();
    private static final Instant LAST_YEAR = NOW.minus(Duration.ofDays(400));
    private static final Instant LAST_MONTH = NOW.minus(Duration.ofDays(30));
    private static final Instant YESTERDAY = NOW.minus(Duration.ofDays(1));
    private static final Instant TOMORROW = NOW.plus(Duration.ofDays(1));
    private static final Instant NEXT_MONTH = NOW.plus(Duration.ofDays(30));
    private static final Instant NEXT_YEAR = NOW.plus(Duration.ofDays(400));

    /** A certificate with its key. */
    record Issued(X509Certificate certificate, PrivateKey key) {}

    /** Certificates with any dates, which the development CA (rightly) refuses to make. */
    static final class Pki {
        private static final AtomicLong SERIAL = new AtomicLong(System.nanoTime());

        static KeyPair keyPair() throws Exception {
            KeyPairGenerator generator = KeyPairGenerator.getInstance("EC");
            generator.initialize(new ECGenParameterSpec("secp256r1"));
            return generator.generateKeyPair();
        }

        /** A self-signed CA. */
        static Issued ca(String commonName, Instant notBefore, Instant notAfter) throws Exception {
            KeyPair keys = keyPair();
            return sign(name(commonName), keys, name(commonName), keys.getPrivate(), notBefore, notAfter, true);
        }

        /** A self-signed end-entity certificate for localhost: what a peer pins as its own trust. */
        static Issued selfSignedLeaf(String commonName, Instant notBefore, Instant notAfter) throws Exception {
            KeyPair keys = keyPair();
            return sign(name(commonName), keys, name(commonName), keys.getPrivate(), notBefore, notAfter, false);
        }

        /** A certificate for localhost issued by {@code issuer}: a leaf, or an intermediate CA. */
        static Issued issue(Issued issuer, String commonName, Instant notBefore, Instant notAfter, boolean ca)
                throws Exception {
            return sign(
                    name(commonName),
                    keyPair(),
                    X500Name.getInstance(
                            issuer.certificate().getSubjectX500Principal().getEncoded()),
                    issuer.key(),
                    notBefore,
                    notAfter,
                    ca);
        }

        private static X500Name name(String commonName) {
            return new X500Name("CN=" + commonName);
        }

        private static Issued sign(
                X500Name subject,
                KeyPair subjectKeys,
                X500Name issuer,
                PrivateKey signingKey,
                Instant notBefore,
                Instant notAfter,
                boolean ca)
                throws Exception {
            JcaX509v3CertificateBuilder builder = new JcaX509v3CertificateBuilder(
                    issuer,
                    BigInteger.valueOf(SERIAL.incrementAndGet()),
                    Date.from(notBefore),
                    Date.from(notAfter),
                    subject,
                    subjectKeys.getPublic());
            JcaX509ExtensionUtils extensions = new JcaX509ExtensionUtils();
            builder.addExtension(
                    Extension.subjectKeyIdentifier,
                    false,
                    extensions.createSubjectKeyIdentifier(subjectKeys.getPublic()));
            if (ca) {
                builder.addExtension(Extension.basicConstraints, true, new BasicConstraints(true));
                builder.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.keyCertSign | KeyUsage.cRLSign));
            } else {
                builder.addExtension(
                        Extension.keyUsage, true, new KeyUsage(KeyUsage.digitalSignature | KeyUsage.keyCertSign));
                builder.addExtension(Extension.extendedKeyUsage, false, new ExtendedKeyUsage(new KeyPurposeId[] {
                    KeyPurposeId.id_kp_serverAuth, KeyPurposeId.id_kp_clientAuth
                }));
                builder.addExtension(
                        Extension.subjectAlternativeName,
                        false,
                        new GeneralNames(new GeneralName(GeneralName.dNSName, "localhost")));
            }
            X509Certificate certificate = new JcaX509CertificateConverter()
                    .getCertificate(builder.build(new JcaContentSignerBuilder("SHA256withECDSA").build(signingKey)));
            return new Issued(certificate, subjectKeys.getPrivate());
        }
    }

    /** What a peer presents and what the layer pins; {@code refusal} is the expected reason, null when it passes. */
    record Case(
            String what,
            List<X509Certificate> chain,
            List<X509Certificate> anchors,
            CertPathValidatorException.BasicReason refusal,
            boolean refused) {

        static Case passes(String what, List<X509Certificate> chain, List<X509Certificate> anchors) {
            return new Case(what, chain, anchors, null, false);
        }

        static Case refused(
                String what,
                List<X509Certificate> chain,
                List<X509Certificate> anchors,
                CertPathValidatorException.BasicReason reason) {
            return new Case(what, chain, anchors, reason, true);
        }

        @Override
        public String toString() {
            return what;
        }
    }

    private static List<X509Certificate> chain(Issued... certificates) {
        List<X509Certificate> chain = new ArrayList<>();
        for (Issued issued : certificates) {
            chain.add(issued.certificate());
        }
        return chain;
    }

    static List<Case> cases() throws Exception {
        Issued currentCa = Pki.ca("Pinned CA", LAST_MONTH, NEXT_YEAR);
        Issued currentLeaf = Pki.issue(currentCa, "peer", YESTERDAY, NEXT_MONTH, false);
        Issued intermediate = Pki.issue(currentCa, "Intermediate CA", LAST_MONTH, NEXT_YEAR, true);
        Issued leafUnderIntermediate = Pki.issue(intermediate, "peer", YESTERDAY, NEXT_MONTH, false);

        Issued expiredCa = Pki.ca("Expired CA", LAST_YEAR, YESTERDAY);
        Issued leafOfExpired = Pki.issue(expiredCa, "peer", YESTERDAY, NEXT_MONTH, false);
        Issued intermediateOfExpired = Pki.issue(expiredCa, "Intermediate CA", LAST_MONTH, NEXT_YEAR, true);
        Issued leafUnderExpiredIntermediate = Pki.issue(intermediateOfExpired, "peer", YESTERDAY, NEXT_MONTH, false);

        Issued futureCa = Pki.ca("Future CA", TOMORROW, NEXT_YEAR);
        Issued leafOfFuture = Pki.issue(futureCa, "peer", YESTERDAY, NEXT_MONTH, false);

        Issued currentSelfSigned = Pki.selfSignedLeaf("self", LAST_MONTH, NEXT_YEAR);
        Issued expiredSelfSigned = Pki.selfSignedLeaf("self", LAST_YEAR, YESTERDAY);
        Issued futureSelfSigned = Pki.selfSignedLeaf("self", TOMORROW, NEXT_YEAR);

        // A CA rotated with a new key under the same name: the old one expired, the new one current, both pinned.
        Issued oldRotated = Pki.ca("Rotated CA", LAST_YEAR, YESTERDAY);
        Issued newRotated = Pki.ca("Rotated CA", LAST_MONTH, NEXT_YEAR);
        Issued leafOfNewRotated = Pki.issue(newRotated, "peer", YESTERDAY, NEXT_MONTH, false);
        Issued leafOfOldRotated = Pki.issue(oldRotated, "peer", YESTERDAY, NEXT_MONTH, false);

        Issued unknownCa = Pki.ca("Unknown CA", LAST_MONTH, NEXT_YEAR);
        Issued leafOfUnknown = Pki.issue(unknownCa, "peer", YESTERDAY, NEXT_MONTH, false);
        // An impostor with the pinned CA's very name but its own key.
        Issued impostor = Pki.ca("Pinned CA", LAST_MONTH, NEXT_YEAR);
        Issued leafOfImpostor = Pki.issue(impostor, "peer", YESTERDAY, NEXT_MONTH, false);
        Issued expiredLeaf = Pki.issue(currentCa, "peer", LAST_YEAR, YESTERDAY, false);

        var expired = CertPathValidatorException.BasicReason.EXPIRED;
        var notYetValid = CertPathValidatorException.BasicReason.NOT_YET_VALID;
        List<X509Certificate> pinned = chain(currentCa);
        return List.of(
                Case.passes("a leaf of the pinned CA", chain(currentLeaf), pinned),
                Case.passes("a leaf and the pinned CA itself", chain(currentLeaf, currentCa), pinned),
                Case.passes(
                        "a leaf under an intermediate of the pinned CA",
                        chain(leafUnderIntermediate, intermediate),
                        pinned),
                Case.passes(
                        "a pinned self-signed certificate, presented",
                        chain(currentSelfSigned),
                        chain(currentSelfSigned)),
                Case.passes(
                        "one of several pinned CAs",
                        chain(currentLeaf),
                        chain(unknownCa, currentCa, currentSelfSigned)),
                Case.refused(
                        "the peer presents an expired pinned certificate",
                        chain(expiredSelfSigned),
                        chain(expiredSelfSigned),
                        expired),
                Case.refused(
                        "the peer presents a pinned certificate not valid yet",
                        chain(futureSelfSigned),
                        chain(futureSelfSigned),
                        notYetValid),
                Case.refused("the chain ends at an expired pinned CA", chain(leafOfExpired), chain(expiredCa), expired),
                Case.refused(
                        "the chain includes the expired pinned CA",
                        chain(leafOfExpired, expiredCa),
                        chain(expiredCa),
                        expired),
                Case.refused(
                        "an intermediate's issuer is the expired pinned CA",
                        chain(leafUnderExpiredIntermediate, intermediateOfExpired),
                        chain(expiredCa),
                        expired),
                Case.refused(
                        "the chain ends at a pinned CA not valid yet",
                        chain(leafOfFuture),
                        chain(futureCa),
                        notYetValid),
                Case.passes(
                        "the new CA of a rotation, though an expired one of the same name is pinned too",
                        chain(leafOfNewRotated),
                        chain(oldRotated, newRotated)),
                Case.passes(
                        "the new CA of a rotation, pinned after the expired one",
                        chain(leafOfNewRotated),
                        chain(newRotated, oldRotated)),
                Case.refused(
                        "the old, expired CA of a rotation, though a current one of the same name is pinned too",
                        chain(leafOfOldRotated),
                        chain(oldRotated, newRotated),
                        expired),
                Case.refused("a chain to an unknown CA", chain(leafOfUnknown), pinned, null),
                Case.refused(
                        "a chain to an unknown CA, presented with it", chain(leafOfUnknown, unknownCa), pinned, null),
                Case.refused("a CA that only has the pinned CA's name", chain(leafOfImpostor), pinned, null),
                Case.refused("an unpinned self-signed certificate", chain(currentSelfSigned), pinned, null),
                Case.refused("an expired leaf of the pinned CA", chain(expiredLeaf), pinned, null));
    }

    /** How the JDK calls a trust manager: three overloads for each side. */
    enum Check {
        SERVER_PLAIN,
        SERVER_SOCKET,
        CLIENT_PLAIN,
        CLIENT_SOCKET;

        void run(ValidAnchorsTrustManager trust, X509Certificate[] chain) throws CertificateException {
            switch (this) {
                case SERVER_PLAIN -> trust.checkServerTrusted(chain, "ECDHE_ECDSA");
                case SERVER_SOCKET -> trust.checkServerTrusted(chain, "ECDHE_ECDSA", (Socket) null);
                case CLIENT_PLAIN -> trust.checkClientTrusted(chain, "EC");
                case CLIENT_SOCKET -> trust.checkClientTrusted(chain, "EC", (Socket) null);
            }
        }
    }

    static Stream<Arguments> checks() throws Exception {
        List<Arguments> arguments = new ArrayList<>();
        for (Case c : cases()) {
            for (Check check : Check.values()) {
                arguments.add(Arguments.of(c, check));
            }
        }
        return arguments.stream();
    }

    @ParameterizedTest(name = "{1}: {0}")
    @MethodSource("checks")
    void trustsAChainOnlyToAPinnedAnchorThatIsValidNow(Case c, Check check) throws Exception {
        ValidAnchorsTrustManager trust = ValidAnchorsTrustManager.of(c.anchors());
        Throwable thrown = catchThrowable(() -> check.run(trust, c.chain().toArray(X509Certificate[]::new)));
        if (!c.refused()) {
            assertThat(thrown).as(c.what()).isNull();
            return;
        }
        assertThat(thrown).as(c.what()).isInstanceOf(CertificateException.class);
        if (c.refusal() != null) {
            assertThat(reason(thrown)).as(c.what()).isEqualTo(c.refusal());
            assertThat(thrown.getMessage()).contains("trust anchor");
        } else {
            assertThat(thrown.getMessage())
                    .as("refused by the JDK's own validation, not by the anchor check")
                    .doesNotContain("trust anchor");
        }
    }

    @Test
    void namesTheAnchorAndTheDateItExpiredOn() throws Exception {
        Issued expiredCa = Pki.ca("Expired CA", LAST_YEAR, YESTERDAY);
        Issued leaf = Pki.issue(expiredCa, "peer", YESTERDAY, NEXT_MONTH, false);
        ValidAnchorsTrustManager trust = ValidAnchorsTrustManager.of(chain(expiredCa));
        Throwable thrown = catchThrowable(
                () -> trust.checkServerTrusted(new X509Certificate[] {leaf.certificate()}, "ECDHE_ECDSA"));
        assertThat(thrown.getMessage())
                .contains("CN=Expired CA")
                .contains("expired on " + expiredCa.certificate().getNotAfter().toInstant());
        CertPathValidatorException cause = (CertPathValidatorException) thrown.getCause();
        assertThat(cause.getIndex())
                .as("the anchor is not a position of the chain")
                .isEqualTo(-1);
    }

    @Test
    void acceptsAsIssuersExactlyThePinnedAnchors() throws Exception {
        Issued first = Pki.ca("First CA", LAST_MONTH, NEXT_YEAR);
        Issued expired = Pki.ca("Expired CA", LAST_YEAR, YESTERDAY);
        ValidAnchorsTrustManager trust = ValidAnchorsTrustManager.of(chain(first, expired));
        assertThat(trust.getAcceptedIssuers())
                .as("an expired anchor is still named: the peer learns which CA to use, then why it fails")
                .containsExactlyInAnyOrder(first.certificate(), expired.certificate());
    }

    // --- through a handshake: the SSLEngine overloads, as the JDK engine calls them ---

    private static SSLContext context(Issued identity, List<X509Certificate> chain, List<X509Certificate> anchors)
            throws Exception {
        KeyStore keys = KeyStore.getInstance("PKCS12");
        keys.load(null, null);
        keys.setKeyEntry("identity", identity.key(), new char[0], chain.toArray(X509Certificate[]::new));
        KeyManagerFactory keyManagers = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
        keyManagers.init(keys, new char[0]);
        SSLContext context = SSLContext.getInstance("TLS");
        context.init(keyManagers.getKeyManagers(), new TrustManager[] {ValidAnchorsTrustManager.of(anchors)}, null);
        return context;
    }

    private static EngineLoopback loopback(SSLContext clientContext, SSLContext serverContext, String protocol) {
        SSLEngine client = clientContext.createSSLEngine("localhost", 443);
        client.setUseClientMode(true);
        SSLParameters parameters = client.getSSLParameters();
        parameters.setEndpointIdentificationAlgorithm("HTTPS");
        parameters.setProtocols(new String[] {protocol});
        client.setSSLParameters(parameters);
        SSLEngine server = serverContext.createSSLEngine();
        server.setUseClientMode(false);
        server.setNeedClientAuth(true);
        server.setEnabledProtocols(new String[] {protocol});
        return new EngineLoopback(client, server);
    }

    static Stream<String> protocols() {
        return Stream.of("TLSv1.3", "TLSv1.2");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("protocols")
    void aHandshakeBetweenPeersOfCurrentPinnedCasSucceeds(String protocol) throws Exception {
        Issued serverCa = Pki.ca("Server CA", LAST_MONTH, NEXT_YEAR);
        Issued clientCa = Pki.ca("Client CA", LAST_MONTH, NEXT_YEAR);
        Issued serverLeaf = Pki.issue(serverCa, "server", YESTERDAY, NEXT_MONTH, false);
        Issued clientLeaf = Pki.issue(clientCa, "client", YESTERDAY, NEXT_MONTH, false);
        SSLContext client = context(clientLeaf, chain(clientLeaf), chain(serverCa));
        SSLContext server = context(serverLeaf, chain(serverLeaf), chain(clientCa));
        try (EngineLoopback loop = loopback(client, server, protocol)) {
            assertThatCode(loop::handshake).doesNotThrowAnyException();
            assertThat(loop.server.getSession().getPeerCertificates()[0]).isEqualTo(clientLeaf.certificate());
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("protocols")
    void aClientRefusesAServerWhoseChainEndsAtAnExpiredPinnedCa(String protocol) throws Exception {
        Issued serverCa = Pki.ca("Server CA", LAST_YEAR, YESTERDAY);
        Issued clientCa = Pki.ca("Client CA", LAST_MONTH, NEXT_YEAR);
        Issued serverLeaf = Pki.issue(serverCa, "server", YESTERDAY, NEXT_MONTH, false);
        Issued clientLeaf = Pki.issue(clientCa, "client", YESTERDAY, NEXT_MONTH, false);
        SSLContext client = context(clientLeaf, chain(clientLeaf), chain(serverCa));
        SSLContext server = context(serverLeaf, chain(serverLeaf), chain(clientCa));
        try (EngineLoopback loop = loopback(client, server, protocol)) {
            Throwable thrown = catchThrowable(loop::handshake);
            assertThat(thrown).isInstanceOf(SSLException.class);
            assertThat(reason(thrown)).isEqualTo(CertPathValidatorException.BasicReason.EXPIRED);
            assertThat(alertTo(loop, loop.server, loop.client))
                    .as("certificate_expired goes to the server")
                    .isEqualTo(protocol.equals("TLSv1.2") ? 45 : AlertScanner.NONE);
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("protocols")
    void aServerRefusesAClientThatPresentsAPinnedCertificateNotValidYet(String protocol) throws Exception {
        Issued serverCa = Pki.ca("Server CA", LAST_MONTH, NEXT_YEAR);
        Issued serverLeaf = Pki.issue(serverCa, "server", YESTERDAY, NEXT_MONTH, false);
        Issued clientSelfSigned = Pki.selfSignedLeaf("client", TOMORROW, NEXT_YEAR);
        SSLContext client = context(clientSelfSigned, chain(clientSelfSigned), chain(serverCa));
        SSLContext server = context(serverLeaf, chain(serverLeaf), chain(clientSelfSigned));
        try (EngineLoopback loop = loopback(client, server, protocol)) {
            Throwable thrown = catchThrowable(loop::handshake);
            assertThat(thrown).isInstanceOf(SSLException.class);
            assertThat(reason(thrown)).isEqualTo(CertPathValidatorException.BasicReason.NOT_YET_VALID);
        }
    }

    /**
     * The alert {@code from} queued after its failure, as the other side would read it in the clear; NONE when it is
     * encrypted (TLS 1.3 after the server's hello).
     */
    private static int alertTo(EngineLoopback loop, SSLEngine to, SSLEngine from) {
        try {
            loop.write(from, new byte[0]);
        } catch (SSLException alreadyClosed) {
            // the alert was produced with the failure
        }
        AlertScanner scanner = new AlertScanner();
        scanner.scan(io.netty.buffer.Unpooled.wrappedBuffer(loop.pending(to)));
        return scanner.lastAlert();
    }

    /** The validation reason in a cause chain, or null. */
    private static CertPathValidatorException.Reason reason(Throwable thrown) {
        for (Throwable t = thrown; t != null; t = t.getCause()) {
            if (t instanceof CertPathValidatorException invalid
                    && invalid.getReason() != CertPathValidatorException.BasicReason.UNSPECIFIED) {
                return invalid.getReason();
            }
        }
        return null;
    }
}
