package dev.onionrelay.credential;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.PrivateKey;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import java.util.function.Function;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;

/**
 * The registry of credentials by name, safe for concurrent use, optionally backed by a directory
 * so that credentials created through the API survive restarts.
 *
 * <p>On disk each credential is {@code <name>.crt} (the chain as PEM, 0644, with a
 * {@code # created-at:} line before it) and, for identities, {@code <name>.key} (PKCS#8, 0600).
 * The {@code .crt} file is what makes a credential exist: it is written last and deleted first,
 * and every file is replaced atomically, so a crash leaves either the old state or the new one; a key file
 * without its certificate (a crash between the two) is removed at the next start.
 * Credentials registered with {@link #put} (from configured files) live in memory only.
 */
public final class CredentialStore implements CredentialRepository {

    private static final System.Logger LOG = System.getLogger(CredentialStore.class.getName());

    /** Names become file names and URL segments; this keeps them safe as both. */
    public static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,62}");

    private static final String NAME_FIELD = "name";
    private static final String CERTIFICATE_SUFFIX = ".crt";
    private static final String KEY_SUFFIX = ".key";
    // Temporary files start with a dot, which no credential name can, so they never collide.
    private static final String TEMP_PREFIX = ".";
    private static final String TEMP_SUFFIX = ".tmp";
    private static final String CREATED_AT_HEADER = "# created-at: ";
    private static final Pattern CREATED_AT_LINE =
            Pattern.compile("^" + Pattern.quote(CREATED_AT_HEADER) + "(\\S+)\\s*$", Pattern.MULTILINE);

    private static final Set<PosixFilePermission> DIRECTORY_PERMISSIONS = PosixFilePermissions.fromString("rwx------");
    private static final Set<PosixFilePermission> KEY_PERMISSIONS = PosixFilePermissions.fromString("rw-------");
    private static final Set<PosixFilePermission> CERTIFICATE_PERMISSIONS =
            PosixFilePermissions.fromString("rw-r--r--");

    /** A registered credential and whether it has files in the directory. */
    private record Entry(Credential credential, boolean persistent) {}

    private final @Nullable Path directory;
    private final boolean posix;
    private final Clock clock;
    private final DevelopmentCa developmentCa;
    private final SecureRandom random = new SecureRandom();
    private final ConcurrentMap<String, Entry> entries = new ConcurrentHashMap<>();
    // Reads go straight to the map; changes are serialised so "name is free" stays true until
    // the files are written and the entry is registered, and "nobody holds it" stays true
    // until a deleted credential's files are gone.
    private final Object changeLock = new Object();
    // credential name -> holder id -> holder name (the relay shown in a refusal); guarded by changeLock
    private final Map<String, Map<String, String>> holders = new HashMap<>();

    /**
     * A store that keeps credentials in {@code directory} (created 0700 if missing) and loads
     * those already there, or, with {@code null}, one that keeps them in memory only.
     *
     * @throws UncheckedIOException if the directory cannot be created or listed
     */
    public CredentialStore(@Nullable Path directory) {
        this(directory, Clock.systemUTC());
    }

    public CredentialStore(@Nullable Path directory, Clock clock) {
        this.directory = directory;
        this.clock = clock;
        this.developmentCa = new DevelopmentCa(clock);
        this.posix = directory != null
                && directory.getFileSystem().supportedFileAttributeViews().contains("posix");
        if (directory != null) {
            try {
                createDirectory(directory);
                loadAll(directory);
            } catch (IOException e) {
                throw new UncheckedIOException("cannot use credential directory " + directory, e);
            }
        }
    }

    /**
     * Validates the request, imports or generates the credential, persists it (when the store
     * has a directory) and registers it. On any failure nothing is registered or left on disk.
     *
     * @throws CredentialException INVALID for a bad name or content, CONFLICT for a taken name
     * @throws UncheckedIOException if the credential cannot be written
     */
    @Override
    public Credential create(NewCredential request) {
        String name = request.name();
        requireValidName(name);
        // Checked early so a taken name fails before any key is generated, and again under the lock.
        requireNameFree(name);
        Credential credential = build(request, this::find);
        synchronized (changeLock) {
            requireNameFree(name);
            if (directory != null) {
                persist(directory, credential);
            }
            entries.put(name, new Entry(credential, directory != null));
        }
        return credential;
    }

    /**
     * Validates a request and imports or generates its credential without keeping it: for a store that keeps
     * credentials elsewhere. A generated credential's issuer is looked up with {@code issuers}.
     *
     * @throws CredentialException INVALID for a bad name or content
     */
    public Credential prepare(NewCredential request, Function<String, Optional<Credential>> issuers) {
        requireValidName(request.name());
        return build(request, issuers);
    }

    private Credential build(NewCredential request, Function<String, Optional<Credential>> issuers) {
        if (request instanceof NewCredential.FromPem fromPem) {
            return importPem(fromPem);
        }
        if (request instanceof NewCredential.GenerateCa ca) {
            return developmentCa.generateCa(ca.name(), ca.commonName(), ca.validityOrDefault());
        }
        if (request instanceof NewCredential.GenerateIssued issued) {
            String issuerName = issued.issuer();
            if (issuerName == null || issuerName.isBlank()) {
                throw CredentialException.invalid(DevelopmentCa.ISSUER_FIELD, "issuer is required");
            }
            Credential issuer = issuers.apply(issuerName)
                    .orElseThrow(() -> CredentialException.invalid(
                            DevelopmentCa.ISSUER_FIELD, "unknown credential '" + issuerName + "'"));
            return developmentCa.issue(
                    issued.name(),
                    issuer,
                    issued.commonName(),
                    issued.dnsNames(),
                    issued.ipAddresses(),
                    issued.validityOrDefault());
        }
        throw new IllegalArgumentException(
                "unknown request " + request.getClass().getName());
    }

    private Credential importPem(NewCredential.FromPem request) {
        List<X509Certificate> chain = PemCodec.parseCertificates(request.certificatePem());
        String keyPem = request.privateKeyPem();
        PrivateKey key = keyPem == null ? null : PemCodec.parsePrivateKey(keyPem);
        if (key != null && !PemCodec.matches(key, chain.get(0))) {
            throw CredentialException.invalid(PemCodec.PRIVATE_KEY_FIELD, "private key does not match the certificate");
        }
        return Credential.of(request.name(), chain, key, clock.instant().truncatedTo(ChronoUnit.MILLIS));
    }

    /**
     * Registers a credential loaded elsewhere (configured certificate files), replacing an
     * earlier {@code put} of the same name; it is not written to the directory.
     *
     * @throws CredentialException INVALID for a bad name, CONFLICT if an API-created credential
     *     already has the name
     */
    @Override
    public void put(Credential credential) {
        requireValidName(credential.name());
        synchronized (changeLock) {
            Entry existing = entries.get(credential.name());
            if (existing != null && existing.persistent()) {
                throw CredentialException.conflict(
                        NAME_FIELD, "credential '" + credential.name() + "' already exists in the state directory");
            }
            entries.put(credential.name(), new Entry(credential, false));
        }
    }

    @Override
    public Optional<Credential> find(String name) {
        if (name == null) {
            return Optional.empty();
        }
        return Optional.ofNullable(entries.get(name)).map(Entry::credential);
    }

    /** All credentials, sorted by name. */
    @Override
    public List<Credential> list() {
        return entries.values().stream()
                .map(Entry::credential)
                .sorted(Comparator.comparing(Credential::name))
                .toList();
    }

    /**
     * Marks credentials as used by {@code holder} (a relay's id; {@code holderName} is what a
     * refused delete names) until {@link #release}: a held credential cannot be deleted. Taken
     * before a relay looks its credentials up, so that a delete either comes first (and the
     * relay then finds the credential gone) or is refused; never both succeed. Names that do not
     * exist may be held too. Holding again adds to what the holder already holds.
     */
    @Override
    public void hold(String holder, String holderName, Collection<String> names) {
        synchronized (changeLock) {
            for (String name : names) {
                holders.computeIfAbsent(name, n -> new LinkedHashMap<>()).put(holder, holderName);
            }
        }
    }

    /** Lets go of everything {@code holder} holds. */
    @Override
    public void release(String holder) {
        synchronized (changeLock) {
            holders.values().removeIf(held -> {
                held.remove(holder);
                return held.isEmpty();
            });
        }
    }

    /** Names of the holders of a credential (relays using it), in the order they took it. */
    @Override
    public List<String> holdersOf(String name) {
        synchronized (changeLock) {
            Map<String, String> held = holders.get(name);
            return held == null ? List.of() : List.copyOf(held.values());
        }
    }

    /**
     * Unregisters the credential and removes its files, unless a relay holds it.
     *
     * @throws CredentialException NOT_FOUND if there is no such credential, CONFLICT while it is
     *     held
     * @throws UncheckedIOException if its certificate file cannot be removed (it then stays)
     */
    @Override
    public void delete(String name) {
        synchronized (changeLock) {
            Entry entry = name == null ? null : entries.get(name);
            if (entry == null) {
                throw CredentialException.notFound(name);
            }
            Map<String, String> held = holders.get(name);
            if (held != null && !held.isEmpty()) {
                throw CredentialException.conflict(
                        NAME_FIELD, "credential '" + name + "' is used by relays " + List.copyOf(held.values()));
            }
            if (entry.persistent() && directory != null) {
                Path certificateFile = directory.resolve(name + CERTIFICATE_SUFFIX);
                try {
                    Files.deleteIfExists(certificateFile);
                } catch (IOException e) {
                    throw new UncheckedIOException("cannot delete " + certificateFile, e);
                }
                // The credential is gone once its certificate file is; a key left behind by a
                // crash here is removed at the next start.
                deleteQuietly(directory.resolve(name + KEY_SUFFIX));
                syncDirectory(directory);
            }
            entries.remove(name);
        }
    }

    /**
     * @throws CredentialException INVALID unless {@code name} is a valid credential name
     */
    public static void requireValidName(@Nullable String name) {
        if (name == null || name.isEmpty()) {
            throw CredentialException.invalid(NAME_FIELD, "name is required");
        }
        if (!NAME.matcher(name).matches()) {
            throw CredentialException.invalid(
                    NAME_FIELD, "name must be 1-63 letters, digits, '.', '_' or '-', starting with a letter or digit");
        }
    }

    private void requireNameFree(String name) {
        if (entries.containsKey(name)) {
            throw CredentialException.conflict(NAME_FIELD, "credential '" + name + "' already exists");
        }
    }

    // ---- persistence ----

    private void persist(Path directory, Credential credential) {
        Path certificateFile = directory.resolve(credential.name() + CERTIFICATE_SUFFIX);
        Path keyFile = directory.resolve(credential.name() + KEY_SUFFIX);
        boolean keyWritten = false;
        boolean saved = false;
        try {
            PrivateKey key = credential.privateKey();
            if (key != null) {
                byte[] keyPem = PemCodec.privateKeyToPem(key).getBytes(StandardCharsets.US_ASCII);
                try {
                    writeAtomically(directory, keyFile, keyPem, KEY_PERMISSIONS);
                } finally {
                    Arrays.fill(keyPem, (byte) 0);
                }
                keyWritten = true;
            } else {
                // A stale key (left by a crash) would otherwise turn this trust credential into
                // an identity at the next start.
                Files.deleteIfExists(keyFile);
            }
            String certificatePem =
                    CREATED_AT_HEADER + credential.createdAt() + "\n" + PemCodec.certificatesToPem(credential.chain());
            writeAtomically(
                    directory,
                    certificateFile,
                    certificatePem.getBytes(StandardCharsets.US_ASCII),
                    CERTIFICATE_PERMISSIONS);
            syncDirectory(directory);
            saved = true;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot save credential '" + credential.name() + "'", e);
        } finally {
            if (keyWritten && !saved) {
                deleteQuietly(keyFile);
            }
        }
    }

    /**
     * Replaces {@code target} with {@code content} so that readers see the old file or the whole
     * new one. The temporary file gets its permissions before any byte is written, so a key is
     * never readable by others, not even for a moment.
     */
    private void writeAtomically(Path directory, Path target, byte[] content, Set<PosixFilePermission> permissions)
            throws IOException {
        Path temp = directory.resolve(TEMP_PREFIX + target.getFileName() + "." + randomSuffix() + TEMP_SUFFIX);
        try {
            if (posix) {
                Files.createFile(temp, PosixFilePermissions.asFileAttribute(permissions));
                // Creation is filtered by the umask; set again so a certificate is really 0644.
                Files.setPosixFilePermissions(temp, permissions);
            } else {
                Files.createFile(temp);
            }
            try (FileChannel channel = FileChannel.open(temp, StandardOpenOption.WRITE)) {
                ByteBuffer buffer = ByteBuffer.wrap(content);
                while (buffer.hasRemaining()) {
                    channel.write(buffer);
                }
                // On disk before the rename makes it visible, or a crash could leave an empty file.
                channel.force(true);
            }
            Files.move(temp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } finally {
            deleteQuietly(temp);
        }
    }

    private String randomSuffix() {
        byte[] bytes = new byte[8];
        random.nextBytes(bytes);
        return HexFormat.of().formatHex(bytes);
    }

    private void createDirectory(Path directory) throws IOException {
        if (Files.isDirectory(directory)) {
            return;
        }
        if (posix) {
            Files.createDirectories(directory, PosixFilePermissions.asFileAttribute(DIRECTORY_PERMISSIONS));
            Files.setPosixFilePermissions(directory, DIRECTORY_PERMISSIONS);
        } else {
            Files.createDirectories(directory);
        }
    }

    private void loadAll(Path directory) throws IOException {
        List<Path> certificateFiles = new ArrayList<>();
        List<Path> keyFiles = new ArrayList<>();
        try (DirectoryStream<Path> files = Files.newDirectoryStream(directory)) {
            for (Path file : files) {
                String fileName = file.getFileName().toString();
                if (fileName.startsWith(TEMP_PREFIX) && fileName.endsWith(TEMP_SUFFIX)) {
                    // Left by a write that crashed before its rename; never part of a credential.
                    deleteQuietly(file);
                } else if (fileName.endsWith(CERTIFICATE_SUFFIX)) {
                    certificateFiles.add(file);
                } else if (fileName.endsWith(KEY_SUFFIX)) {
                    keyFiles.add(file);
                }
            }
        }
        certificateFiles.sort(Comparator.naturalOrder());
        for (Path certificateFile : certificateFiles) {
            String fileName = certificateFile.getFileName().toString();
            String name = fileName.substring(0, fileName.length() - CERTIFICATE_SUFFIX.length());
            if (!NAME.matcher(name).matches()) {
                LOG.log(
                        System.Logger.Level.WARNING,
                        "Skipping credential file {0}: not a valid credential name",
                        certificateFile);
                continue;
            }
            try {
                entries.put(name, new Entry(load(name, certificateFile, directory.resolve(name + KEY_SUFFIX)), true));
            } catch (CredentialException | IOException e) {
                // Messages of both name the problem, never file content.
                LOG.log(
                        System.Logger.Level.WARNING,
                        "Skipping credential file {0}: {1}",
                        certificateFile,
                        e.getMessage());
            } catch (RuntimeException e) {
                LOG.log(
                        System.Logger.Level.WARNING,
                        "Skipping credential file {0}: {1}",
                        certificateFile,
                        e.getClass().getSimpleName());
            }
        }
        for (Path keyFile : keyFiles) {
            String fileName = keyFile.getFileName().toString();
            String name = fileName.substring(0, fileName.length() - KEY_SUFFIX.length());
            if (!Files.exists(directory.resolve(name + CERTIFICATE_SUFFIX))) {
                // The certificate file is what makes a credential exist, so a key without one belongs to no
                // credential: a crash came between writing the key and the certificate, or between deleting them.
                LOG.log(
                        System.Logger.Level.INFO,
                        "Removing key file {0}: no {1} beside it (left by an interrupted create or delete)",
                        keyFile,
                        name + CERTIFICATE_SUFFIX);
                deleteQuietly(keyFile);
            }
        }
    }

    private static Credential load(String name, Path certificateFile, Path keyFile) throws IOException {
        String certificatePem = Files.readString(certificateFile, StandardCharsets.US_ASCII);
        List<X509Certificate> chain = PemCodec.parseCertificates(certificatePem);
        PrivateKey key = null;
        if (Files.exists(keyFile)) {
            key = PemCodec.parsePrivateKey(Files.readString(keyFile, StandardCharsets.US_ASCII));
            if (!PemCodec.matches(key, chain.get(0))) {
                throw CredentialException.invalid(
                        PemCodec.PRIVATE_KEY_FIELD,
                        "private key " + keyFile.getFileName() + " does not match the certificate");
            }
        }
        return Credential.of(name, chain, key, createdAt(certificatePem, certificateFile));
    }

    // Files placed by hand have no header; their modification time is the best guess.
    private static Instant createdAt(String certificatePem, Path certificateFile) throws IOException {
        Matcher header = CREATED_AT_LINE.matcher(certificatePem);
        if (header.find()) {
            try {
                return Instant.parse(header.group(1));
            } catch (DateTimeParseException e) {
                // fall through to the file time
            }
        }
        return Files.getLastModifiedTime(certificateFile).toInstant();
    }

    // Makes renames and deletions durable; not every platform can open a directory for this.
    private static void syncDirectory(Path directory) {
        try (FileChannel channel = FileChannel.open(directory, StandardOpenOption.READ)) {
            channel.force(true);
        } catch (IOException e) {
            // Durability is best effort here; atomicity does not depend on it.
        }
    }

    private static void deleteQuietly(Path file) {
        try {
            Files.deleteIfExists(file);
        } catch (IOException e) {
            LOG.log(System.Logger.Level.WARNING, "Could not delete {0}: {1}", file, e.getMessage());
        }
    }
}
