package dev.onionrelay.support;

import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

/**
 * A real haproxy (Debian's {@code haproxy}) that reads the PROXY protocol ({@code accept-proxy}: version 1 or 2, and
 * nothing else) in front of an HTTP answer naming the client it learned from the header: every request gets
 * {@code client <address>:<port>}. A connection without a valid header is dropped.
 *
 * <p>In CI a missing haproxy fails the test, elsewhere the test is skipped with the way to install it.
 */
public final class HaproxyProcess implements AutoCloseable {

    private static final Path HAPROXY = Path.of("/usr/sbin/haproxy");

    private final Path dir;
    private final int port;
    private final Process process;

    private HaproxyProcess(Path dir, int port, Process process) {
        this.dir = dir;
        this.port = port;
        this.process = process;
    }

    public static HaproxyProcess acceptingProxyProtocol() {
        Path haproxyBinary = LocalServers.require("haproxy", "haproxy", HAPROXY);
        try {
            Path dir = Files.createTempDirectory("onion-haproxy-");
            int port = LocalServers.freePort();
            Path config = dir.resolve("haproxy.cfg");
            Files.writeString(
                    config,
                    String.join(
                            "\n",
                            "defaults",
                            "    mode http",
                            "    timeout connect 5s",
                            "    timeout client 10s",
                            "    timeout server 10s",
                            "frontend seen",
                            "    bind 127.0.0.1:" + port + " accept-proxy",
                            "    http-request return status 200 content-type text/plain lf-string \"client %ci:%cp\\n\"",
                            ""));
            Process process = new ProcessBuilder(haproxyBinary.toString(), "-db", "-f", config.toString())
                    .redirectErrorStream(true)
                    .redirectOutput(dir.resolve("haproxy.out").toFile())
                    .start();
            HaproxyProcess haproxy = new HaproxyProcess(dir, port, process);
            try {
                await().atMost(Duration.ofSeconds(30))
                        .pollInterval(Duration.ofMillis(100))
                        .until(() -> {
                            if (!process.isAlive()) {
                                throw new IllegalStateException(
                                        "haproxy exited " + process.exitValue() + ":\n" + haproxy.output());
                            }
                            return LocalServers.accepts(port);
                        });
            } catch (RuntimeException | Error notReady) {
                haproxy.close();
                throw notReady;
            }
            return haproxy;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public int port() {
        return port;
    }

    /** What haproxy printed (its complaints about connections without a valid header). */
    public String output() {
        try {
            Path out = dir.resolve("haproxy.out");
            return Files.exists(out) ? Files.readString(out) : "";
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
