package dev.onionrelay.credential;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.onionrelay.support.OpenSsl;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.cert.X509Certificate;
import java.time.Instant;
import java.time.Period;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.logging.Handler;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class CredentialStoreTest {

    @TempDir
    static Path openssl;

    static OpenSsl.PemPair rsaPkcs1;
    static OpenSsl.PemPair ecPkcs8;

    @TempDir
    Path stateDirectory;

    @BeforeAll
    static void generateWithOpenssl() {
        rsaPkcs1 = OpenSsl.rsaPkcs1(openssl, "edge");
        ecPkcs8 = OpenSsl.ecPkcs8(openssl, "partner");
    }

    private Path credentialDirectory() {
        return stateDirectory.resolve("credentials");
    }

    @Test
    void importsPkcs1RsaKeyThatMatchesItsCertificate() {
        CredentialStore store = new CredentialStore(null);

        Credential edge =
                store.create(new NewCredential.FromPem("edge", rsaPkcs1.certificate(), rsaPkcs1.privateKey()));

        assertThat(edge.kind()).isEqualTo(Credential.Kind.IDENTITY);
        assertThat(edge.info().subject()).isEqualTo("CN=edge");
        assertThat(store.find("edge")).contains(edge);
    }

    @Test
    void certificateWithoutKeyBecomesATrustCredential() {
        CredentialStore store = new CredentialStore(credentialDirectory());

        Credential partner = store.create(new NewCredential.FromPem("partner-ca", ecPkcs8.certificate(), null));

        assertThat(partner.kind()).isEqualTo(Credential.Kind.TRUST);
        assertThat(credentialDirectory().resolve("partner-ca.crt")).exists();
        assertThat(credentialDirectory().resolve("partner-ca.key")).doesNotExist();
    }

    @Test
    void rejectsKeyThatDoesNotMatchTheCertificate() {
        CredentialStore store = new CredentialStore(credentialDirectory());

        assertThatThrownBy(() ->
                        store.create(new NewCredential.FromPem("edge", rsaPkcs1.certificate(), ecPkcs8.privateKey())))
                .isInstanceOfSatisfying(CredentialException.class, e -> {
                    assertThat(e.kind()).isEqualTo(CredentialException.Kind.INVALID);
                    assertThat(e.field()).isEqualTo("privateKey");
                    assertThat(e.getMessage()).isEqualTo("private key does not match the certificate");
                });
        assertThat(store.find("edge")).isEmpty();
        assertThat(filesIn(credentialDirectory())).isEmpty();
    }

    @ParameterizedTest
    @ValueSource(
            strings = {
                "",
                "../escape",
                ".hidden",
                "a/b",
                "with space",
                "-dash-first",
                "ünïcode",
                "a234567890123456789012345678901234567890123456789012345678901234"
            })
    void rejectsNamesThatAreNotSafeAsFileNames(String name) {
        CredentialStore store = new CredentialStore(credentialDirectory());

        assertThatThrownBy(() -> store.create(new NewCredential.GenerateCa(name, "ca", null)))
                .isInstanceOfSatisfying(CredentialException.class, e -> {
                    assertThat(e.kind()).isEqualTo(CredentialException.Kind.INVALID);
                    assertThat(e.field()).isEqualTo("name");
                });
        assertThat(filesIn(credentialDirectory())).isEmpty();
    }

    @Test
    void acceptsNamesOfUpTo63LettersDigitsDotsDashesAndUnderscores() {
        CredentialStore store = new CredentialStore(credentialDirectory());
        String longest = "a23456789012345678901234567890123456789012345678901234567890.-_";

        store.create(new NewCredential.GenerateCa(longest, "ca", null));

        assertThat(longest).hasSize(63);
        assertThat(store.find(longest)).isPresent();
    }

    @Test
    void rejectsATakenNameAsConflict() {
        CredentialStore store = new CredentialStore(null);
        store.create(new NewCredential.GenerateCa("dev-ca", "first", null));

        assertThatThrownBy(() -> store.create(new NewCredential.FromPem("dev-ca", ecPkcs8.certificate(), null)))
                .isInstanceOfSatisfying(CredentialException.class, e -> {
                    assertThat(e.kind()).isEqualTo(CredentialException.Kind.CONFLICT);
                    assertThat(e.field()).isEqualTo("name");
                });
        assertThat(store.find("dev-ca").orElseThrow().info().subject()).isEqualTo("CN=first");
    }

    @Test
    void rejectsIssuerThatDoesNotExist() {
        CredentialStore store = new CredentialStore(null);

        assertThatThrownBy(() -> store.create(
                        new NewCredential.GenerateIssued("h1", "nope", "h1", List.of("localhost"), List.of(), null)))
                .isInstanceOfSatisfying(CredentialException.class, e -> {
                    assertThat(e.kind()).isEqualTo(CredentialException.Kind.INVALID);
                    assertThat(e.field()).isEqualTo("generate.issuer");
                    assertThat(e.getMessage()).isEqualTo("unknown credential 'nope'");
                });
    }

    @Test
    void generatedCredentialsGetTheDocumentedDefaultValidity() {
        CredentialStore store = new CredentialStore(null);

        Credential ca = store.create(new NewCredential.GenerateCa("dev-ca", "onion dev CA", null));
        Credential leaf = store.create(new NewCredential.GenerateIssued(
                "h1", "dev-ca", "h1", List.of("localhost"), List.of("127.0.0.1"), null));

        assertThat(lifetimeInDays(ca.leaf())).isEqualTo(3650);
        assertThat(lifetimeInDays(leaf.leaf())).isEqualTo(397);
        assertThat(leaf.chain()).containsExactly(leaf.leaf(), ca.leaf());
        assertThat(leaf.info().dnsNames()).containsExactly("localhost");
        assertThat(leaf.info().ipAddresses()).containsExactly("127.0.0.1");
    }

    @Test
    void persistedCredentialsComeBackAfterRestart() {
        CredentialStore before = new CredentialStore(credentialDirectory());
        before.create(new NewCredential.GenerateCa("dev-ca", "onion dev CA", null));
        before.create(new NewCredential.GenerateIssued(
                "h1", "dev-ca", "h1", List.of("localhost"), List.of("127.0.0.1"), Period.ofDays(30)));
        before.create(new NewCredential.FromPem("edge", rsaPkcs1.certificate(), rsaPkcs1.privateKey()));
        before.create(new NewCredential.FromPem("partner-ca", ecPkcs8.certificate(), null));

        CredentialStore after = new CredentialStore(credentialDirectory());

        assertThat(after.list()).extracting(Credential::name).containsExactly("dev-ca", "edge", "h1", "partner-ca");
        for (Credential original : before.list()) {
            Credential restored = after.find(original.name()).orElseThrow();
            assertThat(restored.kind()).isEqualTo(original.kind());
            assertThat(restored.chain()).isEqualTo(original.chain());
            assertThat(restored.createdAt()).isEqualTo(original.createdAt());
            assertThat(restored.info()).isEqualTo(original.info());
            if (original.hasPrivateKey()) {
                assertThat(restored.privateKey().getEncoded())
                        .isEqualTo(original.privateKey().getEncoded());
            }
        }
    }

    @Test
    void keyFileIsOwnerReadableOnly() throws IOException {
        CredentialStore store = new CredentialStore(credentialDirectory());

        store.create(new NewCredential.GenerateCa("dev-ca", "onion dev CA", null));

        assertThat(PosixFilePermissions.toString(
                        Files.getPosixFilePermissions(credentialDirectory().resolve("dev-ca.key"))))
                .isEqualTo("rw-------");
        assertThat(PosixFilePermissions.toString(
                        Files.getPosixFilePermissions(credentialDirectory().resolve("dev-ca.crt"))))
                .isEqualTo("rw-r--r--");
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(credentialDirectory())))
                .isEqualTo("rwx------");
    }

    @Test
    void filesOnDiskAreStandardPemThatOpensslReads() {
        CredentialStore store = new CredentialStore(credentialDirectory());
        store.create(new NewCredential.GenerateCa("dev-ca", "onion dev CA", null));
        store.create(new NewCredential.GenerateIssued("h1", "dev-ca", "h1", List.of("localhost"), List.of(), null));

        String verified = OpenSsl.run(credentialDirectory(), "verify", "-CAfile", "dev-ca.crt", "h1.crt");
        String keyCheck = OpenSsl.run(credentialDirectory(), "pkey", "-in", "h1.key", "-noout");

        assertThat(verified).contains("h1.crt: OK");
        assertThat(keyCheck).isEmpty();
        assertThat(OpenSsl.readFile(credentialDirectory().resolve("h1.key"))).startsWith("-----BEGIN PRIVATE KEY-----");
    }

    @Test
    void deleteRemovesTheCredentialAndItsFiles() {
        CredentialStore store = new CredentialStore(credentialDirectory());
        store.create(new NewCredential.GenerateCa("dev-ca", "onion dev CA", null));
        store.create(new NewCredential.FromPem("partner-ca", ecPkcs8.certificate(), null));

        store.delete("dev-ca");

        assertThat(store.find("dev-ca")).isEmpty();
        assertThat(filesIn(credentialDirectory())).containsExactly("partner-ca.crt");
        assertThat(new CredentialStore(credentialDirectory()).list())
                .extracting(Credential::name)
                .containsExactly("partner-ca");
    }

    @Test
    void deletingAnUnknownCredentialIsNotFound() {
        CredentialStore store = new CredentialStore(null);

        assertThatThrownBy(() -> store.delete("ghost")).isInstanceOfSatisfying(CredentialException.class, e -> {
            assertThat(e.kind()).isEqualTo(CredentialException.Kind.NOT_FOUND);
            assertThat(e.getMessage()).isEqualTo("unknown credential 'ghost'");
        });
    }

    @Test
    void brokenFilesAreSkippedWithAWarningAndTheRestLoad() throws IOException {
        CredentialStore first = new CredentialStore(credentialDirectory());
        first.create(new NewCredential.GenerateCa("good", "good CA", null));
        Files.writeString(credentialDirectory().resolve("garbage.crt"), "not a certificate");
        Files.writeString(credentialDirectory().resolve("mismatch.crt"), rsaPkcs1.certificate());
        Files.writeString(credentialDirectory().resolve("mismatch.key"), ecPkcs8.privateKey());
        List<LogRecord> warnings = new ArrayList<>();

        CredentialStore restarted = withLogRecords(warnings, () -> new CredentialStore(credentialDirectory()));

        assertThat(restarted.list()).extracting(Credential::name).containsExactly("good");
        List<String> messages =
                warnings.stream().map(CredentialStoreTest::formatted).toList();
        assertThat(messages).anySatisfy(message -> assertThat(message).contains("garbage.crt"));
        assertThat(messages).anySatisfy(message -> assertThat(message).contains("mismatch.crt", "does not match"));
        for (String pem : List.of(rsaPkcs1.certificate(), ecPkcs8.privateKey())) {
            String firstBase64Line = pem.lines().skip(1).findFirst().orElseThrow();
            assertThat(messages).noneSatisfy(message -> assertThat(message).contains(firstBase64Line));
        }
    }

    @Test
    void failedWriteLeavesNothingBehind() throws IOException {
        CredentialStore store = new CredentialStore(credentialDirectory());
        // A non-empty directory where the certificate file belongs makes the final rename fail
        // after the key file has already been written.
        Path obstacle = Files.createDirectories(credentialDirectory().resolve("blocked.crt"));
        Files.writeString(obstacle.resolve("occupant"), "x");

        assertThatThrownBy(() -> store.create(new NewCredential.GenerateCa("blocked", "blocked CA", null)))
                .isInstanceOf(UncheckedIOException.class);

        assertThat(store.find("blocked")).isEmpty();
        assertThat(filesIn(credentialDirectory())).containsExactly("blocked.crt");
    }

    @Test
    void aStrayKeyFileDoesNotTurnATrustCredentialIntoAnIdentity() throws IOException {
        CredentialStore store = new CredentialStore(credentialDirectory());
        Files.writeString(credentialDirectory().resolve("partner-ca.key"), ecPkcs8.privateKey());

        store.create(new NewCredential.FromPem("partner-ca", ecPkcs8.certificate(), null));

        assertThat(new CredentialStore(credentialDirectory())
                        .find("partner-ca")
                        .orElseThrow()
                        .kind())
                .isEqualTo(Credential.Kind.TRUST);
    }

    @Test
    void leftoverTemporaryFilesAreRemovedAtStart() throws IOException {
        Files.createDirectories(credentialDirectory());
        Files.writeString(credentialDirectory().resolve(".h1.key.0123456789abcdef.tmp"), "half written");

        new CredentialStore(credentialDirectory());

        assertThat(filesIn(credentialDirectory())).isEmpty();
    }

    @Test
    void aKeyFileOrphanedByACrashBetweenKeyAndCertificateIsRemovedAtStartAndNotWarnedAboutAgain() throws IOException {
        CredentialStore first = new CredentialStore(credentialDirectory());
        first.create(new NewCredential.GenerateCa("kept", "kept CA", null));
        // What a crash after the key's rename and before the certificate's leaves behind.
        Files.writeString(credentialDirectory().resolve("orphan.key"), ecPkcs8.privateKey());

        CredentialStore restarted = new CredentialStore(credentialDirectory());
        List<LogRecord> warnings = new ArrayList<>();
        withLogRecords(warnings, () -> new CredentialStore(credentialDirectory()));

        assertThat(restarted.list()).extracting(Credential::name).containsExactly("kept");
        assertThat(filesIn(credentialDirectory())).containsExactlyInAnyOrder("kept.crt", "kept.key");
        assertThat(warnings)
                .as("the next start has nothing to warn about")
                .noneSatisfy(record -> assertThat(record.getLevel()).isEqualTo(java.util.logging.Level.WARNING));
    }

    @Test
    void aHeldCredentialCannotBeDeletedUntilEveryHolderLetsGo() {
        CredentialStore store = new CredentialStore(credentialDirectory());
        store.create(new NewCredential.GenerateCa("shared-ca", "shared CA", null));
        store.hold("id-1", "entry", List.of("shared-ca", "not-created-yet"));
        store.hold("id-2", "exit", List.of("shared-ca"));

        assertThatThrownBy(() -> store.delete("shared-ca")).isInstanceOfSatisfying(CredentialException.class, e -> {
            assertThat(e.kind()).isEqualTo(CredentialException.Kind.CONFLICT);
            assertThat(e.getMessage()).isEqualTo("credential 'shared-ca' is used by relays [entry, exit]");
        });
        store.release("id-1");
        assertThat(store.holdersOf("shared-ca")).containsExactly("exit");
        assertThat(store.holdersOf("not-created-yet")).isEmpty();
        assertThatThrownBy(() -> store.delete("shared-ca")).isInstanceOf(CredentialException.class);
        assertThat(filesIn(credentialDirectory())).contains("shared-ca.crt");

        store.release("id-2");
        store.delete("shared-ca");
        assertThat(store.find("shared-ca")).isEmpty();
    }

    @Test
    void inMemoryStoreWorksWithoutADirectory() {
        CredentialStore store = new CredentialStore(null);

        store.create(new NewCredential.GenerateCa("dev-ca", "onion dev CA", null));
        store.delete("dev-ca");

        assertThat(store.list()).isEmpty();
    }

    @Test
    void putRegistersAFileCredentialWithoutWritingIt() {
        CredentialStore store = new CredentialStore(credentialDirectory());
        Credential fromFiles = credentialFrom(rsaPkcs1, "mounted");

        store.put(fromFiles);
        store.put(credentialFrom(ecPkcs8, "mounted"));

        assertThat(store.find("mounted").orElseThrow().info().subject()).isEqualTo("CN=partner");
        assertThat(filesIn(credentialDirectory())).isEmpty();
        store.delete("mounted");
        assertThat(store.find("mounted")).isEmpty();
    }

    @Test
    void putCannotReplaceACredentialCreatedThroughTheApi() {
        CredentialStore store = new CredentialStore(credentialDirectory());
        store.create(new NewCredential.GenerateCa("dev-ca", "onion dev CA", null));

        assertThatThrownBy(() -> store.put(credentialFrom(ecPkcs8, "dev-ca")))
                .isInstanceOfSatisfying(CredentialException.class, e -> assertThat(e.kind())
                        .isEqualTo(CredentialException.Kind.CONFLICT));
        assertThat(store.find("dev-ca").orElseThrow().info().subject()).isEqualTo("CN=onion dev CA");
    }

    @Test
    void listIsSortedByName() {
        CredentialStore store = new CredentialStore(null);
        for (String name : List.of("zeta", "alpha", "Mid", "beta")) {
            store.create(new NewCredential.FromPem(name, ecPkcs8.certificate(), null));
        }

        assertThat(store.list()).extracting(Credential::name).containsExactly("Mid", "alpha", "beta", "zeta");
    }

    @Test
    void concurrentCreatesOfOneNameHaveExactlyOneWinner() throws Exception {
        CredentialStore store = new CredentialStore(credentialDirectory());
        int contenders = 8;
        CountDownLatch start = new CountDownLatch(1);
        ConcurrentLinkedQueue<CredentialException.Kind> failures = new ConcurrentLinkedQueue<>();
        ExecutorService executor = Executors.newFixedThreadPool(contenders);
        try {
            List<Future<?>> results = new ArrayList<>();
            for (int i = 0; i < contenders; i++) {
                String commonName = "contender " + i;
                results.add(executor.submit(() -> {
                    start.await();
                    try {
                        store.create(new NewCredential.GenerateCa("same", commonName, null));
                    } catch (CredentialException e) {
                        failures.add(e.kind());
                    }
                    return null;
                }));
            }
            start.countDown();
            for (Future<?> result : results) {
                result.get(10, TimeUnit.SECONDS);
            }
        } finally {
            executor.shutdownNow();
        }

        assertThat(failures).hasSize(contenders - 1).containsOnly(CredentialException.Kind.CONFLICT);
        String winner = store.find("same").orElseThrow().info().subject();
        assertThat(new CredentialStore(credentialDirectory())
                        .find("same")
                        .orElseThrow()
                        .info()
                        .subject())
                .isEqualTo(winner);
    }

    private static Credential credentialFrom(OpenSsl.PemPair pair, String name) {
        return Credential.of(
                name,
                PemCodec.parseCertificates(pair.certificate()),
                PemCodec.parsePrivateKey(pair.privateKey()),
                Instant.now());
    }

    private static long lifetimeInDays(X509Certificate certificate) {
        // notBefore is backdated by one minute; count from the moment of issue.
        return java.time.Duration.between(
                        certificate.getNotBefore().toInstant().plusSeconds(60),
                        certificate.getNotAfter().toInstant())
                .toDays();
    }

    private static List<String> filesIn(Path directory) {
        if (!Files.isDirectory(directory)) {
            return List.of();
        }
        try (Stream<Path> files = Files.list(directory)) {
            return files.map(file -> file.getFileName().toString()).sorted().toList();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static <T> T withLogRecords(List<LogRecord> records, java.util.function.Supplier<T> action) {
        Logger logger = Logger.getLogger(CredentialStore.class.getName());
        Handler capture = new Handler() {
            @Override
            public void publish(LogRecord record) {
                records.add(record);
            }

            @Override
            public void flush() {}

            @Override
            public void close() {}
        };
        logger.addHandler(capture);
        try {
            return action.get();
        } finally {
            logger.removeHandler(capture);
        }
    }

    private static String formatted(LogRecord record) {
        return new java.util.logging.SimpleFormatter().formatMessage(record);
    }
}
