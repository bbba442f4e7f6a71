package dev.onionrelay.registry.file;

import dev.onionrelay.registry.RelayStore;
import dev.onionrelay.registry.StoredRelay;
import dev.onionrelay.relay.RelayException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * Relays as one JSON file each ({@code <id>.json}) in a directory. Every write goes to a temporary file in the same
 * directory and is renamed over the old one, so a crash leaves the old file or the new one, never half of one. The
 * format, with its schema version, is {@link StoredRelayJson}'s.
 */
public final class FileRelayStore implements RelayStore {

    private static final System.Logger LOG = System.getLogger(FileRelayStore.class.getName());
    private static final boolean POSIX =
            FileSystems.getDefault().supportedFileAttributeViews().contains("posix");

    private final Path directory;
    private final StoredRelayJson json = new StoredRelayJson();

    public FileRelayStore(Path directory) {
        this.directory = directory;
        try {
            Files.createDirectories(directory);
            if (POSIX) {
                Files.setPosixFilePermissions(directory, PosixFilePermissions.fromString("rwx------"));
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create relay state directory " + directory, e);
        }
    }

    @Override
    public synchronized void save(StoredRelay relay) {
        Path target = directory.resolve(relay.id() + ".json");
        Path temporary = directory.resolve(relay.id() + ".json.tmp");
        try {
            Files.write(temporary, json.write(relay));
            try {
                Files.move(temporary, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(temporary, target, StandardCopyOption.REPLACE_EXISTING);
            }
        } catch (IOException e) {
            try {
                Files.deleteIfExists(temporary);
            } catch (IOException ignored) {
                // Best effort: the temporary file is removed at the next start too.
            }
            throw new UncheckedIOException("cannot save relay " + relay.spec().name(), e);
        }
    }

    /**
     * Replaces the relay's file if it still holds the revision before {@code relay}'s. One instance owns a state
     * directory, and the check and the write are one step under this store's lock.
     */
    @Override
    public synchronized void replace(StoredRelay relay) {
        Path file = directory.resolve(relay.id() + ".json");
        long stored;
        try {
            stored = json.read(Files.readAllBytes(file)).revision();
        } catch (java.nio.file.NoSuchFileException e) {
            throw new RelayException(
                    RelayException.Kind.NOT_FOUND, null, "relay " + relay.spec().name() + " is not stored any more");
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read relay " + relay.spec().name(), e);
        }
        if (stored != relay.revision() - 1) {
            throw new RelayException(
                    RelayException.Kind.CONFLICT,
                    "revision",
                    "relay " + relay.spec().name() + " is at revision " + stored + " now, not " + (relay.revision() - 1)
                            + ": it was changed meanwhile; read it again and retry");
        }
        save(relay);
    }

    @Override
    public void delete(String id) {
        try {
            Files.deleteIfExists(directory.resolve(id + ".json"));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot delete relay " + id, e);
        }
    }

    @Override
    public List<StoredRelay> load() {
        List<StoredRelay> relays = new ArrayList<>();
        try (DirectoryStream<Path> files = Files.newDirectoryStream(directory)) {
            for (Path file : files) {
                String name = file.getFileName().toString();
                if (name.endsWith(".json.tmp")) {
                    Files.deleteIfExists(file);
                } else if (name.endsWith(".json")) {
                    try {
                        relays.add(json.read(Files.readAllBytes(file)));
                    } catch (RuntimeException e) {
                        LOG.log(
                                System.Logger.Level.WARNING,
                                "skipping unreadable relay file {0}: {1}",
                                file,
                                e.getMessage());
                    }
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read relay state directory " + directory, e);
        }
        relays.sort(Comparator.comparing(StoredRelay::createdAt));
        return relays;
    }
}
