package dev.onionrelay.deploy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.onionrelay.credential.Credential;
import dev.onionrelay.credential.CredentialStore;
import dev.onionrelay.credential.PemCodec;
import dev.onionrelay.credential.file.CredentialFiles;
import dev.onionrelay.credential.file.FileCredentials;
import dev.onionrelay.support.TestPki;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** File credentials without Spring: loading at start, and what a poll does with changed files. */
class FileCredentialsTest {

    @TempDir
    Path work;

    private final TestPki pki = new TestPki();
    private final CredentialStore store = new CredentialStore(null);
    private Path certificate;
    private Path key;

    @BeforeEach
    void files() {
        pki.ca("ca");
        certificate = work.resolve("tls.crt");
        key = work.resolve("tls.key");
    }

    @Test
    void loadsIdentityAndTrustCredentialsAtStart() throws Exception {
        write(pki.leaf("v1", "ca"));
        Path bundle = work.resolve("ca.crt");
        Files.writeString(bundle, PemCodec.certificatesToPem(pki.get("ca").chain()));
        FileCredentials files = watch(Map.of(
                "edge", new CredentialFiles(certificate, key),
                "partner-ca", new CredentialFiles(bundle, null)));
        assertThat(store.find("edge").orElseThrow().kind()).isEqualTo(Credential.Kind.IDENTITY);
        assertThat(store.find("partner-ca").orElseThrow().kind()).isEqualTo(Credential.Kind.TRUST);
        assertThat(files.status("edge").orElseThrow().failing()).isFalse();
        assertThat(files.poll()).as("nothing changed").isEmpty();
    }

    @Test
    void brokenFilesAtStartStopTheStartNamingTheProperty() throws Exception {
        write(pki.leaf("v1", "ca"));
        Files.writeString(key, PemCodec.privateKeyToPem(pki.leaf("other", "ca").privateKey()));
        assertThatThrownBy(() -> watch(Map.of("edge", new CredentialFiles(certificate, key))))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("onion.credentials.edge")
                .hasMessageContaining("does not match");
        assertThat(store.find("edge")).isEmpty();
    }

    @Test
    void aCertificateAndKeyReplacedOneAfterTheOtherAreNotAFailure() throws Exception {
        write(pki.leaf("v1", "ca"));
        FileCredentials files = watch(Map.of("edge", new CredentialFiles(certificate, key)));
        Credential v2 = pki.leaf("v2", "ca");

        Files.writeString(certificate, PemCodec.certificatesToPem(v2.chain())); // the key is still v1's
        assertThat(files.poll()).isEmpty();
        Files.writeString(key, PemCodec.privateKeyToPem(v2.privateKey()));
        assertThat(files.poll()).containsExactly("edge");

        FileCredentials.Status status = files.status("edge").orElseThrow();
        assertThat(status.reloadFailures()).isZero();
        assertThat(status.reloads()).isEqualTo(1);
        assertThat(store.find("edge").orElseThrow().leaf()).isEqualTo(v2.leaf());
    }

    @Test
    void brokenReplacementIsReportedOnceAndKeepsThePreviousMaterialUntilTheFilesAreBack() throws Exception {
        Credential v1 = pki.leaf("v1", "ca");
        write(v1);
        String goodCertificate = Files.readString(certificate);
        FileCredentials files = watch(Map.of("edge", new CredentialFiles(certificate, key)));

        Files.writeString(certificate, "-----BEGIN CERTIFICATE-----\ntruncated");
        assertThat(files.poll()).isEmpty();
        assertThat(files.status("edge").orElseThrow().failing())
                .as("one reading may be a half-written pair")
                .isFalse();
        assertThat(files.poll()).isEmpty();
        assertThat(files.poll()).isEmpty();
        FileCredentials.Status failing = files.status("edge").orElseThrow();
        assertThat(failing.error()).isNotNull();
        assertThat(failing.error().message()).contains(certificate.toString());
        assertThat(failing.reloadFailures())
                .as("one failure per broken content, not per poll")
                .isEqualTo(1);
        assertThat(store.find("edge").orElseThrow().leaf()).isEqualTo(v1.leaf());

        Files.delete(certificate);
        assertThat(files.poll()).isEmpty();
        assertThat(files.poll()).isEmpty();
        assertThat(files.status("edge").orElseThrow().reloadFailures())
                .as("a missing file is a new failure")
                .isEqualTo(2);
        assertThat(files.status("edge").orElseThrow().error().message()).contains("NoSuchFileException");

        Files.writeString(certificate, goodCertificate);
        assertThat(files.poll()).as("the material in use: nothing to reload").isEmpty();
        assertThat(files.status("edge").orElseThrow().failing()).isFalse();
        assertThat(files.status("edge").orElseThrow().reloads()).isZero();
    }

    private FileCredentials watch(Map<String, CredentialFiles> configured) {
        return new FileCredentials(configured, store, Clock.systemUTC());
    }

    private void write(Credential credential) throws Exception {
        Files.writeString(certificate, PemCodec.certificatesToPem(credential.chain()));
        Files.writeString(key, PemCodec.privateKeyToPem(credential.privateKey()));
    }
}
