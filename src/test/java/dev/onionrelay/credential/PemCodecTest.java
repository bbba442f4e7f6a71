package dev.onionrelay.credential;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.onionrelay.support.OpenSsl;
import java.nio.file.Path;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.time.Period;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PemCodecTest {

    @TempDir
    static Path openssl;

    static OpenSsl.PemPair ecPkcs8;
    static OpenSsl.PemPair rsaPkcs1;

    @BeforeAll
    static void generateWithOpenssl() {
        ecPkcs8 = OpenSsl.ecPkcs8(openssl, "ec");
        rsaPkcs1 = OpenSsl.rsaPkcs1(openssl, "rsa");
    }

    @Test
    void importsPkcs8EcKeyThatMatchesItsCertificate() {
        assertThat(ecPkcs8.privateKey()).startsWith("-----BEGIN PRIVATE KEY-----");

        PrivateKey key = PemCodec.parsePrivateKey(ecPkcs8.privateKey());
        X509Certificate certificate =
                PemCodec.parseCertificates(ecPkcs8.certificate()).get(0);

        assertThat(key.getAlgorithm()).isEqualTo("EC");
        assertThat(PemCodec.matches(key, certificate)).isTrue();
    }

    @Test
    void importsPkcs1RsaKeyThatMatchesItsCertificate() {
        assertThat(rsaPkcs1.privateKey()).startsWith("-----BEGIN RSA PRIVATE KEY-----");

        PrivateKey key = PemCodec.parsePrivateKey(rsaPkcs1.privateKey());
        X509Certificate certificate =
                PemCodec.parseCertificates(rsaPkcs1.certificate()).get(0);

        assertThat(key.getAlgorithm()).isEqualTo("RSA");
        assertThat(PemCodec.matches(key, certificate)).isTrue();
    }

    @Test
    void importsSec1EcKeyPrecededByEcParameters(@TempDir Path directory) {
        OpenSsl.PemPair sec1 = OpenSsl.ecSec1WithParameters(directory, "sec1");
        assertThat(sec1.privateKey())
                .startsWith("-----BEGIN EC PARAMETERS-----")
                .contains("-----BEGIN EC PRIVATE KEY-----");

        PrivateKey key = PemCodec.parsePrivateKey(sec1.privateKey());

        assertThat(PemCodec.matches(
                        key, PemCodec.parseCertificates(sec1.certificate()).get(0)))
                .isTrue();
    }

    @Test
    void importsEd25519Key(@TempDir Path directory) {
        OpenSsl.PemPair ed25519 = OpenSsl.ed25519(directory, "ed");

        PrivateKey key = PemCodec.parsePrivateKey(ed25519.privateKey());

        assertThat(PemCodec.matches(
                        key, PemCodec.parseCertificates(ed25519.certificate()).get(0)))
                .isTrue();
    }

    @Test
    void keyOfAnotherCertificateDoesNotMatch(@TempDir Path directory) {
        OpenSsl.PemPair otherEc = OpenSsl.ecPkcs8(directory, "other");
        X509Certificate ecCertificate =
                PemCodec.parseCertificates(ecPkcs8.certificate()).get(0);
        X509Certificate rsaCertificate =
                PemCodec.parseCertificates(rsaPkcs1.certificate()).get(0);

        assertThat(PemCodec.matches(PemCodec.parsePrivateKey(otherEc.privateKey()), ecCertificate))
                .isFalse();
        assertThat(PemCodec.matches(PemCodec.parsePrivateKey(rsaPkcs1.privateKey()), ecCertificate))
                .isFalse();
        assertThat(PemCodec.matches(PemCodec.parsePrivateKey(ecPkcs8.privateKey()), rsaCertificate))
                .isFalse();
    }

    @Test
    void rejectsEncryptedPkcs8Key() {
        OpenSsl.run(
                openssl,
                "pkcs8",
                "-topk8",
                "-in",
                "ec.key",
                "-v2",
                "aes-256-cbc",
                "-passout",
                "pass:secret",
                "-out",
                "encrypted.p8");
        String encrypted = OpenSsl.readFile(openssl.resolve("encrypted.p8"));
        assertThat(encrypted).startsWith("-----BEGIN ENCRYPTED PRIVATE KEY-----");

        assertThatThrownBy(() -> PemCodec.parsePrivateKey(encrypted))
                .isInstanceOfSatisfying(CredentialException.class, e -> {
                    assertThat(e.kind()).isEqualTo(CredentialException.Kind.INVALID);
                    assertThat(e.field()).isEqualTo("privateKey");
                    assertThat(e.getMessage()).isEqualTo("encrypted private keys are not supported");
                });
    }

    @Test
    void rejectsEncryptedTraditionalRsaKey() {
        OpenSsl.run(
                openssl,
                "rsa",
                "-in",
                "rsa.key",
                "-traditional",
                "-aes256",
                "-passout",
                "pass:secret",
                "-out",
                "encrypted.pem");
        String encrypted = OpenSsl.readFile(openssl.resolve("encrypted.pem"));
        assertThat(encrypted).contains("Proc-Type: 4,ENCRYPTED");

        assertThatThrownBy(() -> PemCodec.parsePrivateKey(encrypted))
                .isInstanceOf(CredentialException.class)
                .hasMessage("encrypted private keys are not supported");
    }

    @Test
    void rejectsTextThatIsNotPem() {
        assertThatThrownBy(() -> PemCodec.parseCertificates("hello, I am not a certificate"))
                .isInstanceOfSatisfying(CredentialException.class, e -> {
                    assertThat(e.kind()).isEqualTo(CredentialException.Kind.INVALID);
                    assertThat(e.field()).isEqualTo("certificate");
                    assertThat(e.getMessage()).contains("no certificate found");
                });
        assertThatThrownBy(() -> PemCodec.parsePrivateKey("hello, I am not a key"))
                .isInstanceOfSatisfying(CredentialException.class, e -> {
                    assertThat(e.field()).isEqualTo("privateKey");
                    assertThat(e.getMessage()).contains("no private key found");
                });
    }

    @Test
    void rejectsCertificateBlockWithCorruptContent() {
        String corrupt = "-----BEGIN CERTIFICATE-----\nTUlJQm9qQ0NBVWVnQXdJQkFnSVVIWQ==\n-----END CERTIFICATE-----\n";

        assertThatThrownBy(() -> PemCodec.parseCertificates(corrupt))
                .isInstanceOfSatisfying(CredentialException.class, e -> {
                    assertThat(e.field()).isEqualTo("certificate");
                    assertThat(e.getMessage()).isEqualTo("certificate 1 is not a valid X.509 certificate");
                });
    }

    @Test
    void rejectsTruncatedCertificateBlock() {
        String truncated =
                ecPkcs8.certificate().substring(0, ecPkcs8.certificate().indexOf("-----END"));

        assertThatThrownBy(() -> PemCodec.parseCertificates(truncated))
                .isInstanceOfSatisfying(
                        CredentialException.class, e -> assertThat(e.field()).isEqualTo("certificate"));
    }

    @Test
    void privateKeyPastedAsCertificateIsNamedButNotEchoed() {
        assertThatThrownBy(() -> PemCodec.parseCertificates(ecPkcs8.privateKey()))
                .isInstanceOfSatisfying(CredentialException.class, e -> {
                    assertThat(e.field()).isEqualTo("certificate");
                    assertThat(e.getMessage()).contains("'PRIVATE KEY'");
                    assertThatMessageQuotesNothingOf(e, ecPkcs8.privateKey());
                });
    }

    @Test
    void errorsAboutAKeyNeverQuoteTheKey() {
        // Keep the armour, damage the DER in the middle: the parser sees a broken key structure.
        String body = base64Body(rsaPkcs1.privateKey());
        String damaged = "-----BEGIN RSA PRIVATE KEY-----\n" + body.substring(0, 200) + body.substring(400)
                + "\n-----END RSA PRIVATE KEY-----\n";

        assertThatThrownBy(() -> PemCodec.parsePrivateKey(damaged))
                .isInstanceOfSatisfying(CredentialException.class, e -> {
                    assertThat(e.field()).isEqualTo("privateKey");
                    assertThatMessageQuotesNothingOf(e, rsaPkcs1.privateKey());
                    assertThat(e.getCause())
                            .as("parser exceptions may echo input")
                            .isNull();
                });
    }

    @Test
    void readsAChainInTheOrderGiven() {
        DevelopmentCa ca = new DevelopmentCa();
        Credential root = ca.generateCa("root", "test root", Period.ofDays(1));
        Credential leaf = ca.issue("leaf", root, "leaf", List.of("localhost"), List.of(), Period.ofDays(1));

        List<X509Certificate> chain = PemCodec.parseCertificates(PemCodec.certificatesToPem(leaf.chain()));

        assertThat(chain).containsExactlyElementsOf(leaf.chain());
        assertThat(chain.get(1)).isEqualTo(root.leaf());
    }

    @Test
    void writtenKeyReadsBackAsTheSameKey() {
        PrivateKey key = PemCodec.parsePrivateKey(rsaPkcs1.privateKey());

        String pem = PemCodec.privateKeyToPem(key);

        assertThat(pem).startsWith("-----BEGIN PRIVATE KEY-----\n").endsWith("-----END PRIVATE KEY-----\n");
        assertThat(PemCodec.parsePrivateKey(pem).getEncoded()).isEqualTo(key.getEncoded());
    }

    @Test
    void opensslReadsWhatWeWrite(@TempDir Path directory) {
        Credential ca = new DevelopmentCa().generateCa("ca", "written by us", Period.ofDays(1));
        OpenSsl.writeFile(directory.resolve("ca.crt"), PemCodec.certificatesToPem(ca.chain()));
        OpenSsl.writeFile(directory.resolve("ca.key"), PemCodec.privateKeyToPem(ca.privateKey()));

        String subject = OpenSsl.run(directory, "x509", "-in", "ca.crt", "-noout", "-subject");
        String publicFromKey = OpenSsl.run(directory, "pkey", "-in", "ca.key", "-pubout");
        String publicFromCertificate = OpenSsl.run(directory, "x509", "-in", "ca.crt", "-noout", "-pubkey");

        assertThat(subject).contains("CN = written by us");
        assertThat(publicFromKey).isEqualTo(publicFromCertificate);
    }

    private static String base64Body(String pem) {
        return pem.lines().filter(line -> !line.startsWith("-----")).reduce("", String::concat);
    }

    private static void assertThatMessageQuotesNothingOf(Exception e, String pem) {
        String body = base64Body(pem);
        Matcher words = Pattern.compile("[A-Za-z0-9+/]{12,}").matcher(String.valueOf(e.getMessage()));
        // Any run of base64 characters long enough to be a key fragment must not come from the key.
        while (words.find()) {
            assertThat(body).as("message fragment %s", words.group()).doesNotContain(words.group());
        }
    }
}
