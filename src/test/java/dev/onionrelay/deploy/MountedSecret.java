package dev.onionrelay.deploy;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Comparator;
import java.util.Map;
import java.util.stream.Stream;

/**
 * A directory laid out and updated the way the kubelet mounts a Secret: the files live in a timestamped directory,
 * {@code ..data} links to it, each key is a link {@code <key> -> ..data/<key>}, and an update writes a new directory and
 * swaps {@code ..data} with one atomic rename. Readers of {@code <key>} see the old files or the new ones, never a mix.
 */
final class MountedSecret {

    private final Path directory;
    private int version;

    MountedSecret(Path directory) {
        this.directory = directory;
    }

    Path directory() {
        return directory;
    }

    Path file(String key) {
        return directory.resolve(key);
    }

    /** Replaces the whole content of the Secret, as a Secret update does. */
    void write(Map<String, String> files) {
        try {
            Files.createDirectories(directory);
            Path data = directory.resolve("..data");
            Path previous = Files.isSymbolicLink(data) ? directory.resolve(Files.readSymbolicLink(data)) : null;
            Path next = directory.resolve("..2026_01_01_00_00_00." + (++version));
            Files.createDirectory(next);
            for (Map.Entry<String, String> file : files.entrySet()) {
                Files.writeString(next.resolve(file.getKey()), file.getValue());
            }
            Path link = directory.resolve("..data_tmp");
            Files.deleteIfExists(link);
            Files.createSymbolicLink(link, next.getFileName());
            Files.move(link, data, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            for (String key : files.keySet()) {
                Path user = directory.resolve(key);
                if (!Files.exists(user, LinkOption.NOFOLLOW_LINKS)) {
                    Files.createSymbolicLink(user, Path.of("..data", key));
                }
            }
            if (previous != null) {
                deleteTree(previous);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static void deleteTree(Path root) throws IOException {
        try (Stream<Path> paths = Files.walk(root)) {
            for (Path path : paths.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(path);
            }
        }
    }
}
