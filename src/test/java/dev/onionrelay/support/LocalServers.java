package dev.onionrelay.support;

import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;

/**
 * What every real server a test starts on loopback needs (Squid, haproxy, PostgreSQL, socat): its binary from a Debian
 * package, a free port, a check that it accepts connections, and a clean stop that leaves no files behind. In CI a
 * missing binary fails the test; elsewhere the test is skipped with the package to install.
 */
public final class LocalServers {

    private LocalServers() {}

    /** The first executable among {@code candidates}, or a failure (CI) or skip naming the Debian package. */
    public static Path require(String what, String debianPackage, Path... candidates) {
        for (Path candidate : candidates) {
            if (Files.isExecutable(candidate)) {
                return candidate;
            }
        }
        String message =
                what + " is not installed: apt-get install " + debianPackage + " (Debian package; CI installs it)";
        if ("true".equalsIgnoreCase(System.getenv("CI"))) {
            fail("CI: " + message);
        }
        Assumptions.abort(message);
        throw new IllegalStateException(message);
    }

    /** A port free right now, for a server the test starts in another process (see {@link FixedPorts}). */
    public static int freePort() {
        try {
            return FixedPorts.free();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Whether something accepts TCP connections on the loopback port. */
    public static boolean accepts(int port) {
        try (Socket socket = new Socket(InetAddress.getLoopbackAddress(), port)) {
            return true;
        } catch (IOException notYet) {
            return false;
        }
    }

    /** SIGTERM, then SIGKILL if the process has not ended within 10 s. */
    public static void stop(Process process) {
        process.destroy();
        try {
            if (!process.waitFor(10, TimeUnit.SECONDS)) {
                process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Removes a server's temporary directory; one left behind is not worth failing a test for. */
    public static void deleteTree(Path dir) {
        try (Stream<Path> files = Files.walk(dir)) {
            files.sorted(Comparator.reverseOrder())
                    .forEach(path -> path.toFile().delete());
        } catch (IOException e) {
            // left behind
        }
    }
}
