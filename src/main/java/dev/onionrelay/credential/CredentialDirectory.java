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
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The file format of the credentials in the state directory: reading them at start, writing one, removing one. Cut
 * from {@link CredentialStore}, which keeps the names (what exists, what is held, what may be deleted) and calls this
 * under its lock; this class knows files, permissions and crash safety, and nothing of holders.
 *
 * <p>Each credential is {@code <name>.crt} (the chain as PEM, 0644, with a {@code # created-at:} line before it) and,
 * for identities, {@code <name>.key} (PKCS#8, 0600). The {@code .crt} file is what makes a credential exist: it is
 * written last and deleted first, and every file is replaced atomically, so a crash leaves either the old state or the
 * new one; a key file without its certificate (a crash between the two) is removed at the next start.
 *
 * <p>A rotation ({@link #replace}) must change both files as one: it writes the new pair beside the old as
 * {@code <name>.key.next} and {@code <name>.crt.next}, the certificate last. That certificate is the commit point: once
 * it exists the rotation is decided, both renames follow, and a crash before they are done is completed at the next
 * start; a {@code .key.next} without it is left over from a rotation that never committed and is removed.
 */
final class CredentialDirectory {

    // Logged under the store's name, as before the cut, so logging configured for the store still covers its files.
    private static final System.Logger LOG = System.getLogger(CredentialStore.class.getName());

    private static final String CERTIFICATE_SUFFIX = ".crt";
    private static final String KEY_SUFFIX = ".key";
    // Temporary files start with a dot, which no credential name can, so they never collide.
    private static final String TEMP_PREFIX = ".";
    private static final String TEMP_SUFFIX = ".tmp";
    private static final String NEXT_SUFFIX = ".next";
    private static final String CREATED_AT_HEADER = "# created-at: ";
    private static final Pattern CREATED_AT_LINE = header(CREATED_AT_HEADER);
    private static final String VERSION_HEADER = "# version: ";
    private static final Pattern VERSION_LINE = header(VERSION_HEADER);
    private static final String ROTATED_AT_HEADER = "# rotated-at: ";
    private static final Pattern ROTATED_AT_LINE = header(ROTATED_AT_HEADER);
    // Says whether a rotation's new material has a key, so that finishing it after a crash knows whether the key file
    // beside the certificate is the new one (renamed already) or an old one to remove.
    private static final String KIND_HEADER = "# kind: ";
    private static final Pattern KIND_LINE = header(KIND_HEADER);

    private static final Set<PosixFilePermission> DIRECTORY_PERMISSIONS = PosixFilePermissions.fromString("rwx------");
    private static final Set<PosixFilePermission> KEY_PERMISSIONS = PosixFilePermissions.fromString("rw-------");
    private static final Set<PosixFilePermission> CERTIFICATE_PERMISSIONS =
            PosixFilePermissions.fromString("rw-r--r--");

    private final Path directory;
    private final boolean posix;
    private final SecureRandom random = new SecureRandom();

    /**
     * Uses {@code directory}, creating it (0700) if missing.
     *
     * @throws IOException if it cannot be created
     */
    CredentialDirectory(Path directory) throws IOException {
        this.directory = directory;
        this.posix = directory.getFileSystem().supportedFileAttributeViews().contains("posix");
        createDirectory();
    }

    /**
     * Reads every credential in the directory, in name order, skipping (with a warning) files that are not valid
     * credentials, and removes what a crash left behind: temporary files and key files without a certificate.
     *
     * @throws IOException if the directory cannot be listed
     */
    Map<String, Credential> loadAll() throws IOException {
        Map<String, Credential> loaded = new LinkedHashMap<>();
        List<Path> certificateFiles = new ArrayList<>();
        List<Path> keyFiles = new ArrayList<>();
        finishRotations();
        try (DirectoryStream<Path> files = Files.newDirectoryStream(directory)) {
            for (Path file : files) {
                String fileName = file.getFileName().toString();
                if (fileName.endsWith(KEY_SUFFIX + NEXT_SUFFIX)) {
                    // A rotation's key whose certificate never followed (finishRotations took every committed one).
                    deleteQuietly(file);
                } else if (fileName.startsWith(TEMP_PREFIX) && fileName.endsWith(TEMP_SUFFIX)) {
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
            if (!SafeName.isValid(name)) {
                LOG.log(
                        System.Logger.Level.WARNING,
                        "Skipping credential file {0}: not a valid credential name",
                        certificateFile);
                continue;
            }
            try {
                loaded.put(name, load(name, certificateFile, directory.resolve(name + KEY_SUFFIX)));
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
        return loaded;
    }

    /**
     * Writes the credential's files, the key first and the certificate last; on failure a key just written is
     * removed again.
     *
     * @throws UncheckedIOException if the credential cannot be written
     */
    void save(Credential credential) {
        Path certificateFile = directory.resolve(credential.name() + CERTIFICATE_SUFFIX);
        Path keyFile = directory.resolve(credential.name() + KEY_SUFFIX);
        boolean keyWritten = false;
        boolean saved = false;
        try {
            PrivateKey key = credential.privateKey();
            if (key != null) {
                byte[] keyPem = PemCodec.privateKeyToPem(key).getBytes(StandardCharsets.US_ASCII);
                try {
                    writeAtomically(keyFile, keyPem, KEY_PERMISSIONS);
                } finally {
                    Arrays.fill(keyPem, (byte) 0);
                }
                keyWritten = true;
            } else {
                // A stale key (left by a crash) would otherwise turn this trust credential into
                // an identity at the next start.
                Files.deleteIfExists(keyFile);
            }
            writeAtomically(certificateFile, certificateFile(credential), CERTIFICATE_PERMISSIONS);
            syncDirectory();
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
     * Replaces a credential's files with a rotation's material as one change (see the class comment): after a crash
     * the directory holds the old pair or, at the next start, the new one.
     *
     * @throws UncheckedIOException if the new material cannot be written; the old files then stay as they were
     */
    void replace(Credential credential) {
        String name = credential.name();
        Path nextCertificate = directory.resolve(name + CERTIFICATE_SUFFIX + NEXT_SUFFIX);
        Path nextKey = directory.resolve(name + KEY_SUFFIX + NEXT_SUFFIX);
        try {
            // Left by an earlier rotation that failed before its commit point: never part of this one.
            Files.deleteIfExists(nextCertificate);
            Files.deleteIfExists(nextKey);
            PrivateKey key = credential.privateKey();
            if (key != null) {
                byte[] keyPem = PemCodec.privateKeyToPem(key).getBytes(StandardCharsets.US_ASCII);
                try {
                    writeAtomically(nextKey, keyPem, KEY_PERMISSIONS);
                } finally {
                    Arrays.fill(keyPem, (byte) 0);
                }
            }
            writeAtomically(nextCertificate, certificateFile(credential), CERTIFICATE_PERMISSIONS);
            syncDirectory();
        } catch (IOException e) {
            deleteQuietly(nextKey);
            throw new UncheckedIOException("cannot save the rotated credential '" + name + "'", e);
        }
        try {
            finishRotation(name);
        } catch (IOException e) {
            // Committed: the next start finishes it; until then this process serves the new material from memory.
            LOG.log(
                    System.Logger.Level.WARNING,
                    "credential {0}: rotation saved, its files are renamed at the next start ({1})",
                    name,
                    e.getMessage());
        }
    }

    /** Completes every committed rotation that a crash interrupted: at start, before the credentials are read. */
    private void finishRotations() throws IOException {
        List<String> names = new ArrayList<>();
        try (DirectoryStream<Path> files =
                Files.newDirectoryStream(directory, "*" + CERTIFICATE_SUFFIX + NEXT_SUFFIX)) {
            for (Path file : files) {
                String fileName = file.getFileName().toString();
                names.add(fileName.substring(0, fileName.length() - (CERTIFICATE_SUFFIX + NEXT_SUFFIX).length()));
            }
        }
        for (String name : names) {
            LOG.log(System.Logger.Level.INFO, "credential {0}: finishing a rotation an interruption left undone", name);
            finishRotation(name);
        }
    }

    /** The renames of a committed rotation; each step may already be done, so that running it again is safe. */
    private void finishRotation(String name) throws IOException {
        Path nextCertificate = directory.resolve(name + CERTIFICATE_SUFFIX + NEXT_SUFFIX);
        Path nextKey = directory.resolve(name + KEY_SUFFIX + NEXT_SUFFIX);
        Path keyFile = directory.resolve(name + KEY_SUFFIX);
        if (Files.exists(nextKey)) {
            Files.move(nextKey, keyFile, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } else if (!hasKey(Files.readString(nextCertificate, StandardCharsets.US_ASCII))) {
            Files.deleteIfExists(keyFile); // the new material is a trust credential
        }
        Files.move(
                nextCertificate,
                directory.resolve(name + CERTIFICATE_SUFFIX),
                StandardCopyOption.ATOMIC_MOVE,
                StandardCopyOption.REPLACE_EXISTING);
        syncDirectory();
    }

    /** The certificate file's content: the headers (creation, version, rotation, kind), then the chain as PEM. */
    private static byte[] certificateFile(Credential credential) {
        StringBuilder content = new StringBuilder();
        content.append(CREATED_AT_HEADER).append(credential.createdAt()).append('\n');
        content.append(VERSION_HEADER).append(credential.version()).append('\n');
        if (credential.rotatedAt() != null) {
            content.append(ROTATED_AT_HEADER).append(credential.rotatedAt()).append('\n');
        }
        content.append(KIND_HEADER)
                .append(credential.hasPrivateKey() ? "identity" : "trust")
                .append('\n');
        content.append(PemCodec.certificatesToPem(credential.chain()));
        return content.toString().getBytes(StandardCharsets.US_ASCII);
    }

    private static boolean hasKey(String certificatePem) {
        Matcher kind = KIND_LINE.matcher(certificatePem);
        return kind.find() && kind.group(1).equals("identity");
    }

    private static Pattern header(String prefix) {
        return Pattern.compile("^" + Pattern.quote(prefix) + "(\\S+)\\s*$", Pattern.MULTILINE);
    }

    /**
     * Removes the credential's files, the certificate first.
     *
     * @throws UncheckedIOException if its certificate file cannot be removed (it then stays)
     */
    void remove(String name) {
        Path certificateFile = directory.resolve(name + CERTIFICATE_SUFFIX);
        try {
            Files.deleteIfExists(certificateFile);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot delete " + certificateFile, e);
        }
        // The credential is gone once its certificate file is; a key left behind by a
        // crash here is removed at the next start.
        deleteQuietly(directory.resolve(name + KEY_SUFFIX));
        syncDirectory();
    }

    /**
     * Replaces {@code target} with {@code content} so that readers see the old file or the whole
     * new one. The temporary file gets its permissions before any byte is written, so a key is
     * never readable by others, not even for a moment.
     */
    private void writeAtomically(Path target, byte[] content, Set<PosixFilePermission> permissions) throws IOException {
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

    private void createDirectory() throws IOException {
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
        Credential created = Credential.of(name, chain, key, createdAt(certificatePem, certificateFile));
        Matcher version = VERSION_LINE.matcher(certificatePem);
        Matcher rotatedAt = ROTATED_AT_LINE.matcher(certificatePem);
        if (!version.find()) {
            return created; // written before versions were recorded, or placed by hand: version 1
        }
        try {
            return new Credential(
                    name,
                    created.kind(),
                    chain,
                    key,
                    created.createdAt(),
                    Long.parseLong(version.group(1)),
                    rotatedAt.find() ? Instant.parse(rotatedAt.group(1)) : null);
        } catch (RuntimeException e) {
            throw CredentialException.invalid("version", "unreadable version or rotated-at line: " + e.getMessage());
        }
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
    private void syncDirectory() {
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
