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
 */
final class CredentialDirectory {

    // Logged under the store's name, as before the cut, so logging configured for the store still covers its files.
    private static final System.Logger LOG = System.getLogger(CredentialStore.class.getName());

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
            String certificatePem =
                    CREATED_AT_HEADER + credential.createdAt() + "\n" + PemCodec.certificatesToPem(credential.chain());
            writeAtomically(
                    certificateFile, certificatePem.getBytes(StandardCharsets.US_ASCII), CERTIFICATE_PERMISSIONS);
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
