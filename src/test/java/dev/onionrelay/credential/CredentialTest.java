package dev.onionrelay.credential;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.onionrelay.support.OpenSsl;
import java.nio.file.Path;
import java.security.interfaces.ECPrivateKey;
import java.time.Instant;
import java.time.Period;
import java.util.Base64;
import java.util.List;
import java.util.Locale;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CredentialTest {

    private final DevelopmentCa developmentCa = new DevelopmentCa();
    private final Credential ca = developmentCa.generateCa("dev-ca", "onion dev CA", Period.ofDays(30));

    @Test
    void toStringNeverShowsThePrivateKey() {
        ECPrivateKey key = (ECPrivateKey) ca.privateKey();

        String text = ca.toString();

        assertThat(text).contains("dev-ca", "CN=onion dev CA", "<redacted>");
        assertThat(text)
                .doesNotContain(key.getS().toString())
                .doesNotContain(key.getS().toString(16))
                .doesNotContain(
                        Base64.getEncoder().encodeToString(key.getEncoded()).substring(0, 40))
                .doesNotContain(key.toString());
    }

    @Test
    void importRequestToStringNeverShowsThePrivateKeyPem() {
        String keyPem = PemCodec.privateKeyToPem(ca.privateKey());

        String text = new NewCredential.FromPem("edge", PemCodec.certificatesToPem(ca.chain()), keyPem).toString();

        assertThat(text).contains("edge", "<redacted>").doesNotContain("PRIVATE KEY");
    }

    @Test
    void certificateWithoutKeyIsATrustCredential() {
        Credential trust = Credential.of("partner-ca", ca.chain(), null, Instant.now());

        assertThat(trust.kind()).isEqualTo(Credential.Kind.TRUST);
        assertThat(trust.hasPrivateKey()).isFalse();
        assertThat(trust.trustAnchors()).containsExactly(ca.leaf());
        assertThat(trust.info().kind()).isEqualTo("trust");
        assertThat(trust.info().hasPrivateKey()).isFalse();
        assertThat(trust.toString()).contains("privateKey=none");
    }

    @Test
    void kindMustAgreeWithThePresenceOfAKey() {
        assertThatThrownBy(() -> new Credential("x", Credential.Kind.IDENTITY, ca.chain(), null, Instant.now()))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new Credential("x", Credential.Kind.TRUST, ca.chain(), ca.privateKey(), Instant.now()))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new Credential("x", Credential.Kind.TRUST, List.of(), null, Instant.now()))
                .isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void infoDescribesTheLeafAsOpensslDoes(@TempDir Path directory) {
        Credential leaf =
                developmentCa.issue("h1", ca, "h1", List.of("localhost"), List.of("127.0.0.1"), Period.ofDays(30));
        OpenSsl.writeFile(directory.resolve("leaf.pem"), PemCodec.certificatesToPem(List.of(leaf.leaf())));

        String fingerprint = OpenSsl.run(directory, "x509", "-in", "leaf.pem", "-noout", "-fingerprint", "-sha256")
                .trim()
                .replaceFirst(".*=", "")
                .replace(":", "")
                .toLowerCase(Locale.ROOT);
        String serial = OpenSsl.run(directory, "x509", "-in", "leaf.pem", "-noout", "-serial")
                .trim()
                .replaceFirst("serial=", "")
                .toLowerCase(Locale.ROOT);

        CredentialInfo info = leaf.info();
        assertThat(info.name()).isEqualTo("h1");
        assertThat(info.kind()).isEqualTo("identity");
        assertThat(info.sha256()).isEqualTo(fingerprint).hasSize(64);
        assertThat(info.serial()).isEqualTo(serial);
        assertThat(info.subject()).isEqualTo("CN=h1");
        assertThat(info.issuer()).isEqualTo("CN=onion dev CA");
        assertThat(info.notBefore()).isEqualTo(leaf.leaf().getNotBefore().toInstant());
        assertThat(info.notAfter()).isEqualTo(leaf.leaf().getNotAfter().toInstant());
        assertThat(info.hasPrivateKey()).isTrue();
    }
}
