package dev.onionrelay.support;

import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;

/**
 * A real Squid of the test's own (Debian's {@code squid}): {@code squid -N} in the foreground on a free loopback port,
 * with its configuration, logs and pid file in a temporary directory, no cache, and CONNECT allowed from loopback to
 * any port. Run as root, Squid drops its privileges to {@code proxy}, so its directory is writable by everyone.
 * {@link #accessLog()} reads what it logged: one line per transaction, written when the transaction ends.
 *
 * <p>In CI a missing Squid fails the test, elsewhere the test is skipped with the way to install it.
 */
public final class SquidProcess implements AutoCloseable {

    private static final Path SQUID = Path.of("/usr/sbin/squid");

    private final Path dir;
    private final int port;
    private final Process process;

    private SquidProcess(Path dir, int port, Process process) {
        this.dir = dir;
        this.port = port;
        this.process = process;
    }

    /** Starts Squid and waits until it accepts connections. */
    public static SquidProcess start() {
        Path squidBinary = LocalServers.require("Squid", "squid", SQUID);
        try {
            Path dir = Files.createTempDirectory("onion-squid-");
            Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxrwxrwx"));
            int port = LocalServers.freePort();
            Path config = dir.resolve("squid.conf");
            Files.writeString(
                    config,
                    String.join(
                            "\n",
                            "http_port 127.0.0.1:" + port,
                            "pid_filename " + dir.resolve("squid.pid"),
                            "access_log stdio:" + dir.resolve("access.log"),
                            "cache_log " + dir.resolve("cache.log"),
                            "cache_store_log none",
                            "coredump_dir " + dir,
                            "cache deny all",
                            "cache_mem 8 MB",
                            "pinger_enable off",
                            "shutdown_lifetime 0 seconds",
                            "visible_hostname onion-relay-test",
                            "logfile_rotate 0",
                            "acl loopback src 127.0.0.0/8 ::1",
                            // CONNECT to any port: the tests' targets listen on ephemeral ports.
                            "http_access allow loopback",
                            "http_access deny all",
                            ""));
            Process process = new ProcessBuilder(squidBinary.toString(), "-N", "-f", config.toString())
                    .redirectErrorStream(true)
                    .redirectOutput(dir.resolve("squid.out").toFile())
                    .start();
            SquidProcess squid = new SquidProcess(dir, port, process);
            try {
                await().atMost(Duration.ofSeconds(30))
                        .pollInterval(Duration.ofMillis(100))
                        .until(() -> {
                            if (!process.isAlive()) {
                                throw new IllegalStateException("squid exited " + process.exitValue() + ":\n"
                                        + squid.read("squid.out") + squid.read("cache.log"));
                            }
                            return LocalServers.accepts(port);
                        });
            } catch (RuntimeException | Error notReady) {
                squid.close();
                throw notReady;
            }
            return squid;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public int port() {
        return port;
    }

    /** The access log's lines so far (each transaction is logged when it ends). */
    public List<String> accessLog() {
        String log = read("access.log");
        return log.isEmpty() ? List.of() : List.of(log.split("\n"));
    }

    /** Squid's own log, for failure messages. */
    public String cacheLog() {
        return read("cache.log");
    }

    private String read(String file) {
        try {
            Path path = dir.resolve(file);
            return Files.exists(path) ? Files.readString(path) : "";
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Override
    public void close() {
        LocalServers.stop(process);
        LocalServers.deleteTree(dir);
    }
}
