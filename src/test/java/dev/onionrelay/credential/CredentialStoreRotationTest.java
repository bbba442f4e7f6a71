package dev.onionrelay.credential;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Rotation in place in the directory store: the version counts rotations, the files change as one (a crash between
 * the renames is finished at the next start), and what may not be rotated is refused with nothing changed.
 */
class CredentialStoreRotationTest {

    private static final Instant CREATED = Instant.parse("2026-12-01T10:00:00Z");

    @TempDir
    Path state;

    private Path directory() {
        return state.resolve("credentials");
    }

    private static NewCredential.GenerateCa ca(String name) {
        return new NewCredential.GenerateCa(name, name, null);
    }

    private static NewCredential.GenerateIssued leaf(String name, String issuer) {
        return new NewCredential.GenerateIssued(name, issuer, name, List.of("localhost"), List.of(), null);
    }

    @Test
    void aRotationKeepsNameAndCreationTimeCountsTheVersionAndSurvivesARestart() {
        CredentialStore store = new CredentialStore(directory(), Clock.fixed(CREATED, ZoneOffset.UTC));
        store.create(ca("ca"));
        Credential first = store.create(leaf("edge", "ca"));
        assertThat(first.version()).isEqualTo(1);
        assertThat(first.rotatedAt()).isNull();

        Credential second = store.rotate(leaf("edge", "ca"));
        Credential third = store.rotate(leaf("edge", "ca"));

        assertThat(third.version()).isEqualTo(3);
        assertThat(third.createdAt()).isEqualTo(first.createdAt());
        assertThat(third.rotatedAt()).isEqualTo(CREATED);
        assertThat(third.leaf().getSerialNumber())
                .isNotEqualTo(second.leaf().getSerialNumber())
                .isNotEqualTo(first.leaf().getSerialNumber());
        assertThat(store.find("edge")).contains(third);

        Credential reloaded = new CredentialStore(directory()).find("edge").orElseThrow();
        assertThat(reloaded.version()).isEqualTo(3);
        assertThat(reloaded.rotatedAt()).isEqualTo(CREATED);
        assertThat(reloaded.leaf()).isEqualTo(third.leaf());
        assertThat(reloaded.privateKey()).isEqualTo(third.privateKey());
    }

    @Test
    void anIdentityCanBecomeATrustCredentialOnlyWhileNoLayerPresentsIt() throws Exception {
        CredentialStore store = new CredentialStore(directory());
        store.create(ca("ca"));
        Credential edge = store.create(leaf("edge", "ca"));
        String trustPem = PemCodec.certificatesToPem(edge.chain());
        store.hold("relay-1", "exit", List.of("edge", "ca"), List.of("edge"));

        assertThatThrownBy(() -> store.rotate(new NewCredential.FromPem("edge", trustPem, null)))
                .isInstanceOfSatisfying(CredentialException.class, e -> {
                    assertThat(e.kind()).isEqualTo(CredentialException.Kind.CONFLICT);
                    assertThat(e.getMessage()).contains("[exit]");
                });
        assertThat(store.find("edge")).contains(edge);

        // A relay that only trusts it does not stop it.
        store.release("relay-1");
        store.hold("relay-2", "entry", List.of("edge"), List.of());
        Credential trust = store.rotate(new NewCredential.FromPem("edge", trustPem, null));

        assertThat(trust.kind()).isEqualTo(Credential.Kind.TRUST);
        assertThat(Files.exists(directory().resolve("edge.key")))
                .as("the old key file")
                .isFalse();
        assertThat(new CredentialStore(directory()).find("edge").orElseThrow().kind())
                .isEqualTo(Credential.Kind.TRUST);
    }

    @Test
    void unknownAndFileCredentialsAreNotRotatedAndBadContentChangesNothing() {
        CredentialStore store = new CredentialStore(directory());
        store.create(ca("ca"));
        Credential edge = store.create(leaf("edge", "ca"));
        Credential mounted = Credential.of("mounted", edge.chain(), edge.privateKey(), CREATED);
        store.put(mounted);

        assertThatThrownBy(() -> store.rotate(leaf("nobody", "ca")))
                .isInstanceOfSatisfying(CredentialException.class, e -> assertThat(e.kind())
                        .isEqualTo(CredentialException.Kind.NOT_FOUND));
        assertThatThrownBy(() -> store.rotate(leaf("mounted", "ca")))
                .isInstanceOfSatisfying(CredentialException.class, e -> {
                    assertThat(e.kind()).isEqualTo(CredentialException.Kind.CONFLICT);
                    assertThat(e.getMessage()).contains("onion.credentials.mounted");
                });
        assertThatThrownBy(() -> store.rotate(new NewCredential.FromPem("edge", "not pem", null)))
                .isInstanceOfSatisfying(CredentialException.class, e -> assertThat(e.kind())
                        .isEqualTo(CredentialException.Kind.INVALID));
        assertThatThrownBy(() -> store.rotate(leaf("edge", "no-such-ca")))
                .isInstanceOfSatisfying(CredentialException.class, e -> assertThat(e.kind())
                        .isEqualTo(CredentialException.Kind.INVALID));
        assertThat(store.find("edge")).contains(edge);
        assertThat(store.find("mounted")).contains(mounted);
    }

    @Test
    void aRotationInterruptedAfterItsCommitPointIsFinishedAtTheNextStart() throws Exception {
        CredentialStore store = new CredentialStore(directory());
        store.create(ca("ca"));
        store.create(leaf("edge", "ca"));
        Credential rotated = store.rotate(leaf("edge", "ca"));
        // Rebuild the state a crash leaves after the key's rename and before the certificate's: the new key in place,
        // the new certificate still beside the old one.
        Path certificate = directory().resolve("edge.crt");
        Files.move(certificate, directory().resolve("edge.crt.next"), StandardCopyOption.REPLACE_EXISTING);
        Files.writeString(certificate, "stale: the certificate of the version before\n");

        Credential loaded = new CredentialStore(directory()).find("edge").orElseThrow();

        assertThat(loaded.leaf()).isEqualTo(rotated.leaf());
        assertThat(loaded.privateKey()).isEqualTo(rotated.privateKey());
        assertThat(loaded.version()).isEqualTo(2);
        assertThat(directory().resolve("edge.crt.next")).doesNotExist();
    }

    @Test
    void aRotationThatNeverReachedItsCommitPointLeavesTheOldPair() throws Exception {
        CredentialStore store = new CredentialStore(directory());
        store.create(ca("ca"));
        Credential edge = store.create(leaf("edge", "ca"));
        Credential other = new CredentialStore(null).create(ca("other"));
        // A crash after the new key was written and before the new certificate: only edge.key.next exists.
        Files.writeString(directory().resolve("edge.key.next"), PemCodec.privateKeyToPem(other.privateKey()));

        Credential loaded = new CredentialStore(directory()).find("edge").orElseThrow();

        assertThat(loaded.privateKey()).isEqualTo(edge.privateKey());
        assertThat(loaded.version()).isEqualTo(1);
        assertThat(directory().resolve("edge.key.next")).doesNotExist();
    }
}
