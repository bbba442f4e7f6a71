package dev.onionrelay.store.postgres;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assumptions.assumeThat;

import dev.onionrelay.credential.Credential;
import dev.onionrelay.credential.DevelopmentCa;
import dev.onionrelay.credential.PemCodec;
import dev.onionrelay.registry.LayerRequest;
import dev.onionrelay.registry.RelayRequest;
import dev.onionrelay.registry.RelayRequests;
import dev.onionrelay.registry.StoredRelay;
import dev.onionrelay.store.KeyEncryptionKey;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.time.Instant;
import java.time.Period;
import java.util.Base64;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The last-known store state an instance keeps in its state directory to start while the database is away: it reads
 * back as written (relays, credentials, sealed keys byte for byte, a certificate-only credential without a key), the
 * file is 0600 however it was before, no private key is in it in the clear, a rewrite replaces it whole, and a
 * missing, empty, truncated or otherwise unreadable file reads as "no snapshot" rather than failing the start.
 */
class StoreSnapshotTest {

    private static final KeyEncryptionKey KEK = new KeyEncryptionKey(new byte[32]);
    private static Credential hop;
    private static Credential ca;

    @TempDir
    Path stateDir;

    @BeforeAll
    static void credentials() {
        DevelopmentCa development = new DevelopmentCa();
        ca = development.generateCa("ca", "Snapshot CA", Period.ofDays(30));
        hop = development.issue("hop", ca, "hop", List.of("localhost"), List.of(), Period.ofDays(30));
    }

    private static StoredRelay relay(String id, String name, int port) {
        RelayRequest request = new RelayRequest(
                name,
                new RelayRequest.EndpointRequest("127.0.0.1", port),
                RelayRequest.TargetRequest.fixed("example.internal", 443),
                List.of(new LayerRequest(
                        "outer",
                        null,
                        "hop",
                        "system",
                        null,
                        null,
                        "require",
                        null,
                        null,
                        List.of("h2"),
                        "3s",
                        null,
                        null,
                        null,
                        null)),
                List.of(new LayerRequest(
                        null,
                        null,
                        null,
                        "ca",
                        "localhost",
                        null,
                        null,
                        null,
                        null,
                        null,
                        null,
                        null,
                        "strict",
                        null,
                        null)),
                null);
        return new StoredRelay(
                id,
                Instant.parse("2026-12-01T10:00:00Z"),
                RelayRequests.toSpec(
                        request,
                        new RelayRequests.Defaults(
                                100, Duration.ofSeconds(10), Duration.ofSeconds(5), Duration.ofMinutes(5))));
    }

    /** A credential row as the database holds it: the key PEM sealed with the key-encryption key. */
    private static PostgresCredentialRepository.Row sealed(Credential credential, Instant createdAt) {
        byte[] pem = PemCodec.privateKeyToPem(credential.privateKey()).getBytes(StandardCharsets.US_ASCII);
        return new PostgresCredentialRepository.Row(
                credential.name(),
                PemCodec.certificatesToPem(credential.chain()),
                KEK.seal(pem, "credential:" + credential.name()),
                KEK.id(),
                createdAt);
    }

    /** A trust-only credential: a certificate and no key. */
    private static PostgresCredentialRepository.Row certificateOnly(Credential credential, Instant createdAt) {
        return new PostgresCredentialRepository.Row(
                credential.name() + "-trust", PemCodec.certificatesToPem(credential.chain()), null, null, createdAt);
    }

    private StoreSnapshot.State state() {
        return new StoreSnapshot.State(
                List.of(
                        relay("0b0c6a8e-2f0e-4d53-9f5e-6d1f3f1f0a11", "entry", 7100),
                        relay("1c1d7b9f-3f1f-4e64-8f6f-7e2f4f2f1b22", "exit", 7101)),
                List.of(
                        sealed(hop, Instant.parse("2026-12-01T09:00:00Z")),
                        certificateOnly(ca, Instant.parse("2026-12-01T09:30:00.123456Z"))));
    }

    @Test
    void readsBackWhatWasWritten() throws Exception {
        StoreSnapshot snapshot = new StoreSnapshot(stateDir.resolve("store-snapshot.json"));
        StoreSnapshot.State written = state();
        snapshot.write(written);

        StoreSnapshot.State read = snapshot.read().orElseThrow();
        assertThat(read.relays()).isEqualTo(written.relays());
        assertThat(read.credentials()).hasSize(2);
        for (int i = 0; i < 2; i++) {
            PostgresCredentialRepository.Row before = written.credentials().get(i);
            PostgresCredentialRepository.Row after = read.credentials().get(i);
            assertThat(after.name()).isEqualTo(before.name());
            assertThat(after.certificatePem()).isEqualTo(before.certificatePem());
            assertThat(after.sealedKey()).isEqualTo(before.sealedKey());
            assertThat(after.keyId()).isEqualTo(before.keyId());
            assertThat(after.createdAt()).isEqualTo(before.createdAt());
        }
        assertThat(read.credentials().get(1).sealedKey())
                .as("a certificate-only credential stays without a key")
                .isNull();
        byte[] opened = KEK.open(read.credentials().get(0).sealedKey(), "credential:hop");
        assertThat(PemCodec.parsePrivateKey(new String(opened, StandardCharsets.US_ASCII)))
                .as("the sealed key still opens with the key-encryption key")
                .isEqualTo(hop.privateKey());
    }

    @Test
    void anEmptyStateReadsBackEmpty() {
        StoreSnapshot snapshot = new StoreSnapshot(stateDir.resolve("store-snapshot.json"));
        snapshot.write(new StoreSnapshot.State(List.of(), List.of()));
        StoreSnapshot.State read = snapshot.read().orElseThrow();
        assertThat(read.relays()).isEmpty();
        assertThat(read.credentials()).isEmpty();
    }

    @Test
    void privateKeysStaySealedInTheFile() throws Exception {
        Path file = stateDir.resolve("store-snapshot.json");
        StoreSnapshot.State written = state();
        new StoreSnapshot(file).write(written);
        String content = Files.readString(file, StandardCharsets.ISO_8859_1);
        String keyPem = PemCodec.privateKeyToPem(hop.privateKey());
        String keyBody = keyPem.lines()
                .filter(line -> !line.startsWith("-----"))
                .findFirst()
                .orElseThrow();
        assertThat(content).doesNotContain("PRIVATE KEY").doesNotContain(keyBody);
        assertThat(content)
                .doesNotContain(
                        Base64.getEncoder().encodeToString(hop.privateKey().getEncoded()));
        assertThat(content)
                .as("the sealed form is what is written")
                .contains("\"sealedKey\":\""
                        + Base64.getEncoder()
                                .encodeToString(written.credentials().get(0).sealedKey()) + "\"");
    }

    @Test
    void theFileIsReadableByItsOwnerOnly() throws Exception {
        assumeThat(FileSystems.getDefault().supportedFileAttributeViews()).contains("posix");
        Path file = stateDir.resolve("store-snapshot.json");
        new StoreSnapshot(file).write(state());
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(file)))
                .isEqualTo("rw-------");
    }

    @Test
    void aRewriteReplacesAWorldReadableFileWithAPrivateOne() throws Exception {
        assumeThat(FileSystems.getDefault().supportedFileAttributeViews()).contains("posix");
        Path file = stateDir.resolve("store-snapshot.json");
        Files.writeString(file, "{}");
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-r--r--"));
        new StoreSnapshot(file).write(state());
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(file)))
                .isEqualTo("rw-------");
    }

    @Test
    void aRewriteReplacesTheWholeStateAndLeavesNoTemporaryFile() throws Exception {
        Path file = stateDir.resolve("store-snapshot.json");
        StoreSnapshot snapshot = new StoreSnapshot(file);
        snapshot.write(state());
        StoredRelay only = relay("2d2e8ca0-4020-4f75-9070-8f3050303c33", "only", 7200);
        snapshot.write(new StoreSnapshot.State(List.of(only), List.of()));
        StoreSnapshot.State read = snapshot.read().orElseThrow();
        assertThat(read.relays()).containsExactly(only);
        assertThat(read.credentials()).isEmpty();
        try (Stream<Path> files = Files.list(stateDir)) {
            assertThat(files).containsExactly(file);
        }
    }

    @Test
    void aLeftoverTemporaryFileFromACrashedWriteIsNoObstacle() throws Exception {
        Path file = stateDir.resolve("store-snapshot.json");
        Files.writeString(stateDir.resolve("store-snapshot.json.tmp"), "{\"half\":");
        new StoreSnapshot(file).write(state());
        assertThat(new StoreSnapshot(file).read()).isPresent();
        assertThat(stateDir.resolve("store-snapshot.json.tmp")).doesNotExist();
    }

    @Test
    void theStateDirectoryIsCreatedWhenMissing() {
        Path file = stateDir.resolve("not/yet/there/store-snapshot.json");
        new StoreSnapshot(file).write(state());
        assertThat(new StoreSnapshot(file).read()).isPresent();
        assertThat(new StoreSnapshot(file).file()).isEqualTo(file);
    }

    @Test
    void noFileIsNoSnapshot() {
        assertThat(new StoreSnapshot(stateDir.resolve("store-snapshot.json")).read())
                .isEmpty();
    }

    static Stream<Arguments> unreadable() {
        return Stream.of(
                Arguments.of("not JSON", "PGDMP\u0000\u0001binary"),
                Arguments.of("JSON cut short by a crash", "{\"schemaVersion\":1,\"relays\":[{\"id\":\"0b0c"),
                Arguments.of(
                        "a credential without its creation time",
                        "{\"schemaVersion\":1,\"relays\":[],\"credentials\":[{\"name\":\"a\",\"certificatePem\":\"x\"}]}"),
                Arguments.of(
                        "a sealed key that is not base64",
                        "{\"schemaVersion\":1,\"relays\":[],\"credentials\":[{\"name\":\"a\",\"certificatePem\":\"x\","
                                + "\"sealedKey\":\"%%%\",\"keyId\":\"k\",\"createdAt\":\"2026-12-01T09:00:00Z\"}]}"),
                Arguments.of(
                        "a relay of a newer schema",
                        "{\"schemaVersion\":1,\"relays\":[{\"schemaVersion\":99,\"id\":\"x\"}],\"credentials\":[]}"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("unreadable")
    void anUnreadableFileIsNoSnapshotRatherThanAFailedStart(String what, String content) throws Exception {
        Path file = stateDir.resolve("store-snapshot.json");
        Files.writeString(file, content, StandardCharsets.ISO_8859_1);
        Optional<StoreSnapshot.State> read = new StoreSnapshot(file).read();
        assertThat(read).as(what).isEmpty();
    }

    @Test
    void anEmptyFileServesNothing() throws Exception {
        Path file = stateDir.resolve("store-snapshot.json");
        Files.write(file, new byte[0]);
        Optional<StoreSnapshot.State> read = new StoreSnapshot(file).read();
        assertThat(read.map(
                        state -> state.relays().isEmpty() && state.credentials().isEmpty()))
                .as("no snapshot, or an empty one: never a relay or credential from nowhere")
                .isNotEqualTo(Optional.of(false));
    }

    @Test
    void anUnreadableFileIsReplacedByTheNextWrite() throws Exception {
        Path file = stateDir.resolve("store-snapshot.json");
        Files.writeString(file, "garbage");
        StoreSnapshot snapshot = new StoreSnapshot(file);
        assertThat(snapshot.read()).isEmpty();
        snapshot.write(state());
        assertThat(snapshot.read()).map(s -> s.relays().size()).contains(2);
    }
}
