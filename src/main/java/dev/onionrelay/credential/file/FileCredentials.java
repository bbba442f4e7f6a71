package dev.onionrelay.credential.file;

import dev.onionrelay.credential.Credential;
import dev.onionrelay.credential.CredentialException;
import dev.onionrelay.credential.CredentialRepository;
import dev.onionrelay.credential.PemCodec;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Credentials read from files ({@code onion.credentials.<name>.certificate-file}, {@code .private-key-file}), usually
 * mounted Kubernetes Secrets: registered in the {@link CredentialRepository} (memory only, never written to the state
 * directory) and read again by {@link #poll()} when the files change.
 *
 * <p>Changes are found by hashing the files' contents on every poll rather than by watching the directory: Kubernetes
 * rotates a Secret by swapping a {@code ..data} symlink, which a watch on the file names does not see, and hashing also
 * covers in-place rewrites and editors that replace files. New content that parses replaces the credential at once.
 * New content that does not parse leaves the last good material in use and is reported (status, health, metrics) once
 * the same content was read on two polls in a row: a certificate and key written one after the other are briefly a
 * mismatched pair, and that is not a failure.
 *
 * <p>Polled from one thread; the status is read from any.
 */
public final class FileCredentials {

    private static final Logger LOG = LoggerFactory.getLogger(FileCredentials.class);

    /**
     * The state of one file credential as status and metrics show it.
     *
     * @param loadedAt when the material in use was read
     * @param sha256 fingerprint of the leaf certificate in use
     * @param notAfter expiry of the leaf certificate in use
     * @param reloads how often changed files were loaded after the start
     * @param reloadFailures how many changed file contents could not be loaded
     * @param error why the current files are not in use (the previous material is), or null while they are
     */
    public record Status(
            String name,
            Path certificateFile,
            @Nullable Path privateKeyFile,
            Instant loadedAt,
            String sha256,
            Instant notAfter,
            long reloads,
            long reloadFailures,
            @Nullable Failure error) {

        public boolean failing() {
            return error != null;
        }
    }

    /** Why the files could not be loaded, and since when. Never quotes file content. */
    public record Failure(Instant since, String message) {}

    /** One poll's reading of a credential's files: the bytes, or why they could not be read, and their hash. */
    private record Snapshot(
            byte @Nullable [] certificate,
            byte @Nullable [] privateKey,
            @Nullable String readError) {

        String hash() {
            try {
                MessageDigest digest = MessageDigest.getInstance("SHA-256");
                update(digest, certificate);
                update(digest, privateKey);
                update(digest, readError == null ? null : readError.getBytes(StandardCharsets.UTF_8));
                return HexFormat.of().formatHex(digest.digest());
            } catch (NoSuchAlgorithmException e) {
                throw new IllegalStateException("every JDK has SHA-256", e);
            }
        }

        private static void update(MessageDigest digest, byte @Nullable [] part) {
            // Length-prefixed, so that moving bytes between the parts changes the hash.
            int length = part == null ? -1 : part.length;
            digest.update(
                    new byte[] {(byte) (length >>> 24), (byte) (length >>> 16), (byte) (length >>> 8), (byte) length});
            if (part != null) {
                digest.update(part);
            }
        }

        void wipe() {
            if (privateKey != null) {
                Arrays.fill(privateKey, (byte) 0);
            }
        }
    }

    /** Per credential: what is in use and what the last polls saw. Only the polling thread writes it. */
    private static final class Watched {
        final String name;
        final CredentialFiles files;
        String appliedHash;

        @Nullable
        String pendingHash;

        @Nullable
        String rejectedHash;

        volatile Status status;

        Watched(String name, CredentialFiles files, String appliedHash, Status status) {
            this.name = name;
            this.files = files;
            this.appliedHash = appliedHash;
            this.status = status;
        }
    }

    private final CredentialRepository store;
    private final Clock clock;
    private final Map<String, Watched> watched = new LinkedHashMap<>();

    /**
     * Reads every configured credential and registers it in the store.
     *
     * @throws IllegalStateException naming the property and file when one cannot be loaded: at start there is no
     *     previous material to fall back on, so this is a configuration error
     */
    public FileCredentials(Map<String, CredentialFiles> configured, CredentialRepository store, Clock clock) {
        this.store = store;
        this.clock = clock;
        for (Map.Entry<String, CredentialFiles> entry : configured.entrySet()) {
            String name = entry.getKey();
            CredentialFiles files = entry.getValue();
            if (files == null || files.certificateFile() == null) {
                throw new IllegalStateException("onion.credentials." + name + ".certificate-file is required");
            }
            Snapshot snapshot = read(files);
            try {
                Credential credential = parse(name, files, snapshot);
                store.put(credential);
                watched.put(name, new Watched(name, files, snapshot.hash(), loaded(name, files, credential, 0, 0)));
                LOG.info(
                        "credential {} loaded from {} ({})",
                        name,
                        files.certificateFile(),
                        credential.kind().name().toLowerCase(java.util.Locale.ROOT));
            } catch (CredentialException e) {
                throw new IllegalStateException("onion.credentials." + name + ": " + e.getMessage(), e);
            } finally {
                snapshot.wipe();
            }
        }
    }

    /** Names of the configured file credentials, in configuration order. */
    public List<String> names() {
        return List.copyOf(watched.keySet());
    }

    public Optional<Status> status(String name) {
        Watched entry = watched.get(name);
        return entry == null ? Optional.empty() : Optional.of(entry.status);
    }

    public List<Status> statuses() {
        return watched.values().stream().map(w -> w.status).toList();
    }

    /**
     * Reads every credential's files once and applies those that changed and parse.
     *
     * @return names of the credentials whose material changed, so that relays using them can rebuild their TLS
     *     contexts
     */
    public synchronized List<String> poll() {
        List<String> changed = new ArrayList<>();
        for (Watched entry : watched.values()) {
            if (poll(entry)) {
                changed.add(entry.name);
            }
        }
        return changed;
    }

    private boolean poll(Watched entry) {
        Snapshot snapshot = read(entry.files);
        try {
            String hash = snapshot.hash();
            Status status = entry.status;
            if (hash.equals(entry.appliedHash)) {
                // The files hold the material in use (again): nothing to load, nothing failing.
                entry.pendingHash = null;
                entry.rejectedHash = null;
                if (status.failing()) {
                    entry.status = withError(status, null, status.reloadFailures());
                    LOG.info("credential {}: files are back to the material in use", entry.name);
                }
                return false;
            }
            if (hash.equals(entry.rejectedHash)) {
                return false; // reported already; still broken
            }
            Credential credential;
            try {
                credential = parse(entry.name, entry.files, snapshot);
            } catch (CredentialException e) {
                if (!hash.equals(entry.pendingHash)) {
                    entry.pendingHash = hash; // maybe half-written: report if the next poll reads the same
                    return false;
                }
                entry.pendingHash = null;
                entry.rejectedHash = hash;
                entry.status = withError(status, new Failure(now(), e.getMessage()), status.reloadFailures() + 1);
                LOG.warn(
                        "credential {}: the changed files cannot be loaded, keeping the previous material: {}",
                        entry.name,
                        e.getMessage());
                return false;
            }
            try {
                store.put(credential);
            } catch (CredentialException e) {
                // Only if an API-created credential took the name, which the store prevents while this one exists.
                entry.rejectedHash = hash;
                entry.status = withError(status, new Failure(now(), e.getMessage()), status.reloadFailures() + 1);
                return false;
            }
            entry.appliedHash = hash;
            entry.pendingHash = null;
            entry.rejectedHash = null;
            entry.status = loaded(entry.name, entry.files, credential, status.reloads() + 1, status.reloadFailures());
            LOG.info(
                    "credential {} reloaded from {}: {}",
                    entry.name,
                    entry.files.certificateFile(),
                    credential.leaf().getSubjectX500Principal().getName());
            return true;
        } finally {
            snapshot.wipe();
        }
    }

    private Status loaded(String name, CredentialFiles files, Credential credential, long reloads, long failures) {
        return new Status(
                name,
                files.certificateFile(),
                files.privateKeyFile(),
                now(),
                credential.info().sha256(),
                credential.leaf().getNotAfter().toInstant(),
                reloads,
                failures,
                null);
    }

    private static Status withError(Status status, @Nullable Failure error, long failures) {
        return new Status(
                status.name(),
                status.certificateFile(),
                status.privateKeyFile(),
                status.loadedAt(),
                status.sha256(),
                status.notAfter(),
                status.reloads(),
                failures,
                error);
    }

    private static Snapshot read(CredentialFiles files) {
        byte[] certificate;
        try {
            certificate = Files.readAllBytes(files.certificateFile());
        } catch (IOException e) {
            return new Snapshot(null, null, "cannot read " + files.certificateFile() + ": " + describe(e));
        }
        byte[] key = null;
        if (files.privateKeyFile() != null) {
            try {
                key = Files.readAllBytes(files.privateKeyFile());
            } catch (IOException e) {
                return new Snapshot(certificate, null, "cannot read " + files.privateKeyFile() + ": " + describe(e));
            }
        }
        return new Snapshot(certificate, key, null);
    }

    private static String describe(IOException e) {
        // NoSuchFileException's message is just the path; name the kind of problem instead.
        return e.getClass().getSimpleName() + (e.getMessage() != null ? " " + e.getMessage() : "");
    }

    private Credential parse(String name, CredentialFiles files, Snapshot snapshot) {
        if (snapshot.readError() != null) {
            throw CredentialException.invalid("certificate-file", snapshot.readError());
        }
        List<X509Certificate> chain;
        try {
            chain = PemCodec.parseCertificates(new String(snapshot.certificate(), StandardCharsets.US_ASCII));
        } catch (CredentialException e) {
            throw CredentialException.invalid("certificate-file", files.certificateFile() + ": " + e.getMessage());
        }
        PrivateKey key = null;
        if (snapshot.privateKey() != null) {
            // PemCodec's messages never quote the key.
            try {
                key = PemCodec.parsePrivateKey(new String(snapshot.privateKey(), StandardCharsets.US_ASCII));
            } catch (CredentialException e) {
                throw CredentialException.invalid("private-key-file", files.privateKeyFile() + ": " + e.getMessage());
            }
            if (!PemCodec.matches(key, chain.get(0))) {
                throw CredentialException.invalid(
                        "private-key-file",
                        files.privateKeyFile() + ": private key does not match the certificate in "
                                + files.certificateFile());
            }
        }
        return Credential.of(name, chain, key, now());
    }

    private Instant now() {
        return clock.instant().truncatedTo(ChronoUnit.MILLIS);
    }
}
