package dev.onionrelay.credential;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.onionrelay.support.OpenSsl;
import java.math.BigInteger;
import java.nio.file.Path;
import java.security.cert.CertPathValidator;
import java.security.cert.CertificateFactory;
import java.security.cert.PKIXParameters;
import java.security.cert.TrustAnchor;
import java.security.cert.X509Certificate;
import java.security.interfaces.ECPublicKey;
import java.time.Clock;
import java.time.Instant;
import java.time.Period;
import java.time.ZoneOffset;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class DevelopmentCaTest {

    private static final String SERVER_AUTH = "1.3.6.1.5.5.7.3.1";
    private static final String CLIENT_AUTH = "1.3.6.1.5.5.7.3.2";

    private final DevelopmentCa developmentCa = new DevelopmentCa();
    private final Credential ca = developmentCa.generateCa("dev-ca", "onion dev CA", Period.ofDays(30));

    @Test
    void generatedCaIsSelfSignedAndMaySignCertificates() throws Exception {
        X509Certificate certificate = ca.leaf();

        certificate.verify(certificate.getPublicKey());
        assertThat(certificate.getSubjectX500Principal()).isEqualTo(certificate.getIssuerX500Principal());
        assertThat(certificate.getBasicConstraints()).isGreaterThanOrEqualTo(0);
        assertThat(certificate.getCriticalExtensionOIDs()).contains("2.5.29.19", "2.5.29.15");
        boolean[] keyUsage = certificate.getKeyUsage();
        assertThat(keyUsage[5]).as("keyCertSign").isTrue();
        assertThat(keyUsage[6]).as("cRLSign").isTrue();
        assertThat(certificate.getExtensionValue("2.5.29.14"))
                .as("subject key identifier")
                .isNotNull();
        assertThat(((ECPublicKey) certificate.getPublicKey())
                        .getParams()
                        .getOrder()
                        .bitLength())
                .isEqualTo(256);
        assertThat(ca.kind()).isEqualTo(Credential.Kind.IDENTITY);
        assertThat(ca.chain()).hasSize(1);
    }

    @Test
    void issuedLeafVerifiesAgainstTheCa() throws Exception {
        Credential leaf =
                developmentCa.issue("h1", ca, "h1", List.of("localhost"), List.of("127.0.0.1"), Period.ofDays(30));

        assertThat(leaf.chain()).containsExactly(leaf.leaf(), ca.leaf());
        assertThat(leaf.leaf().getSigAlgName()).isEqualTo("SHA256withECDSA");
        // PKIX checks signatures, basic constraints and key usage of the whole path.
        PKIXParameters parameters = new PKIXParameters(Set.of(new TrustAnchor(ca.leaf(), null)));
        parameters.setRevocationEnabled(false);
        CertPathValidator.getInstance("PKIX")
                .validate(CertificateFactory.getInstance("X.509").generateCertPath(List.of(leaf.leaf())), parameters);
    }

    @Test
    void issuedLeafHasTheRequestedSubjectAlternativeNamesAndPurposes() throws Exception {
        Credential leaf = developmentCa.issue(
                "h1", ca, "h1", List.of("localhost", "h1.test"), List.of("127.0.0.1", "::1"), Period.ofDays(30));

        CredentialInfo info = leaf.info();
        assertThat(info.subject()).isEqualTo("CN=h1");
        assertThat(info.issuer()).isEqualTo("CN=onion dev CA");
        assertThat(info.dnsNames()).containsExactly("localhost", "h1.test");
        assertThat(info.ipAddresses()).containsExactly("127.0.0.1", "0:0:0:0:0:0:0:1");
        assertThat(leaf.leaf().getExtendedKeyUsage()).containsExactlyInAnyOrder(SERVER_AUTH, CLIENT_AUTH);
        assertThat(leaf.leaf().getBasicConstraints()).isEqualTo(-1);
        assertThat(leaf.leaf().getExtensionValue("2.5.29.35"))
                .as("authority key identifier")
                .isNotNull();
    }

    @Test
    void opensslAcceptsTheIssuedLeafAsServerAndClientForItsNames(@TempDir Path directory) {
        Credential leaf =
                developmentCa.issue("h1", ca, "h1", List.of("localhost"), List.of("127.0.0.1"), Period.ofDays(30));
        OpenSsl.writeFile(directory.resolve("ca.pem"), PemCodec.certificatesToPem(ca.chain()));
        OpenSsl.writeFile(directory.resolve("leaf.pem"), PemCodec.certificatesToPem(List.of(leaf.leaf())));

        String asServer = OpenSsl.run(
                directory,
                "verify",
                "-CAfile",
                "ca.pem",
                "-purpose",
                "sslserver",
                "-verify_hostname",
                "localhost",
                "leaf.pem");
        String asServerByIp = OpenSsl.run(
                directory,
                "verify",
                "-CAfile",
                "ca.pem",
                "-purpose",
                "sslserver",
                "-verify_ip",
                "127.0.0.1",
                "leaf.pem");
        String asClient = OpenSsl.run(directory, "verify", "-CAfile", "ca.pem", "-purpose", "sslclient", "leaf.pem");
        OpenSsl.Result wrongHost = OpenSsl.execute(
                directory, "verify", "-CAfile", "ca.pem", "-verify_hostname", "example.com", "leaf.pem");

        assertThat(asServer).contains("leaf.pem: OK");
        assertThat(asServerByIp).contains("leaf.pem: OK");
        assertThat(asClient).contains("leaf.pem: OK");
        assertThat(wrongHost.exitCode()).isNotZero();
    }

    @Test
    void issuesFromAnRsaCaImportedFromOpenssl(@TempDir Path directory) throws Exception {
        OpenSsl.PemPair rsaCa = OpenSsl.rsaCa(directory, "rsa-ca");
        Credential issuer = Credential.of(
                "rsa-ca",
                PemCodec.parseCertificates(rsaCa.certificate()),
                PemCodec.parsePrivateKey(rsaCa.privateKey()),
                Instant.now());

        Credential leaf = developmentCa.issue("h2", issuer, "h2", List.of("localhost"), List.of(), Period.ofDays(7));

        assertThat(leaf.leaf().getSigAlgName()).isEqualTo("SHA256withRSA");
        leaf.leaf().verify(issuer.leaf().getPublicKey());
        assertThat(leaf.leaf().getIssuerX500Principal()).isEqualTo(issuer.leaf().getSubjectX500Principal());
    }

    @Test
    void rejectsIssuerWithoutPrivateKey() {
        Credential trustOnly = Credential.of("trust", ca.chain(), null, Instant.now());

        assertThatThrownBy(() -> developmentCa.issue("x", trustOnly, "x", List.of(), List.of(), Period.ofDays(1)))
                .isInstanceOfSatisfying(CredentialException.class, e -> {
                    assertThat(e.kind()).isEqualTo(CredentialException.Kind.INVALID);
                    assertThat(e.field()).isEqualTo("generate.issuer");
                    assertThat(e.getMessage()).contains("no private key");
                });
    }

    @Test
    void rejectsIssuerThatIsNotACa() {
        Credential leaf = developmentCa.issue("h1", ca, "h1", List.of("localhost"), List.of(), Period.ofDays(1));

        assertThatThrownBy(() -> developmentCa.issue("x", leaf, "x", List.of(), List.of(), Period.ofDays(1)))
                .isInstanceOfSatisfying(CredentialException.class, e -> {
                    assertThat(e.field()).isEqualTo("generate.issuer");
                    assertThat(e.getMessage()).isEqualTo("credential 'h1' is not a CA");
                });
    }

    @ParameterizedTest
    @ValueSource(strings = {"999.1.1.1", "localhost", "10.0.0.0/8", "", "1.2.3", "::g"})
    void rejectsMalformedIpAddress(String ipAddress) {
        assertThatThrownBy(() -> developmentCa.issue("x", ca, "x", List.of(), List.of(ipAddress), Period.ofDays(1)))
                .isInstanceOfSatisfying(CredentialException.class, e -> {
                    assertThat(e.field()).isEqualTo("generate.ipAddresses");
                    assertThat(e.getMessage()).isEqualTo("'" + ipAddress + "' is not an IP address");
                });
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "two words", "a..b", "-leading.dash", "ünicode.test", "*"})
    void rejectsMalformedDnsName(String dnsName) {
        assertThatThrownBy(() -> developmentCa.issue("x", ca, "x", List.of(dnsName), List.of(), Period.ofDays(1)))
                .isInstanceOfSatisfying(
                        CredentialException.class, e -> assertThat(e.field()).isEqualTo("generate.dnsNames"));
    }

    @Test
    void acceptsWildcardDnsName() {
        Credential leaf = developmentCa.issue("w", ca, "w", List.of("*.svc.test"), List.of(), Period.ofDays(1));

        assertThat(leaf.info().dnsNames()).containsExactly("*.svc.test");
    }

    @ParameterizedTest
    @ValueSource(strings = {"P0D", "P-1D", "P10000Y"})
    void rejectsValidityThatIsNotAPositivePeriodBeforeYear9999(String validity) {
        assertThatThrownBy(() -> developmentCa.generateCa("x", "x", Period.parse(validity)))
                .isInstanceOfSatisfying(
                        CredentialException.class, e -> assertThat(e.field()).isEqualTo("generate.validity"));
    }

    @Test
    void rejectsMissingCommonName() {
        assertThatThrownBy(() -> developmentCa.generateCa("x", " ", Period.ofDays(1)))
                .isInstanceOfSatisfying(
                        CredentialException.class, e -> assertThat(e.field()).isEqualTo("generate.commonName"));
    }

    @Test
    void validityStartsOneMinuteEarlyAndLastsTheRequestedPeriod() {
        Instant now = Instant.parse("2030-01-01T00:00:00Z");
        DevelopmentCa atFixedTime = new DevelopmentCa(Clock.fixed(now, ZoneOffset.UTC));

        Credential fixedCa = atFixedTime.generateCa("ca", "ca", Period.ofYears(1));
        Credential leaf = atFixedTime.issue("h1", fixedCa, "h1", List.of("localhost"), List.of(), Period.parse("P30D"));

        assertThat(fixedCa.leaf().getNotBefore().toInstant()).isEqualTo("2029-12-31T23:59:00Z");
        assertThat(fixedCa.leaf().getNotAfter().toInstant()).isEqualTo("2031-01-01T00:00:00Z");
        assertThat(leaf.leaf().getNotAfter().toInstant()).isEqualTo("2030-01-31T00:00:00Z");
        assertThat(leaf.createdAt()).isEqualTo(now);
    }

    @Test
    void leafNeverOutlivesItsIssuer() {
        Credential shortCa = developmentCa.generateCa("short", "short-lived CA", Period.ofDays(10));

        Credential leaf = developmentCa.issue("h1", shortCa, "h1", List.of("localhost"), List.of(), Period.ofDays(397));

        assertThat(leaf.leaf().getNotAfter()).isEqualTo(shortCa.leaf().getNotAfter());
    }

    @Test
    void serialsArePositive128BitNumbersThatDoNotRepeat() {
        Set<BigInteger> serials = new HashSet<>();
        for (int i = 0; i < 20; i++) {
            BigInteger serial = developmentCa
                    .issue("h" + i, ca, "h", List.of(), List.of(), Period.ofDays(1))
                    .leaf()
                    .getSerialNumber();
            assertThat(serial.signum()).isPositive();
            assertThat(serial.bitLength()).isEqualTo(128);
            serials.add(serial);
        }
        assertThat(serials).hasSize(20);
    }
}
