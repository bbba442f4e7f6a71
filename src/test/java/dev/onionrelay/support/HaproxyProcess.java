package dev.onionrelay.support;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;

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
        requireHaproxy();
        try {
            Path dir = Files.createTempDirectory("onion-haproxy-");
            int port = SquidProcess.freePort();
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
            Process process = new ProcessBuilder(HAPROXY.toString(), "-db", "-f", config.toString())
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
                            return accepts(port);
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
        process.destroy();
        try {
            if (!process.waitFor(10, TimeUnit.SECONDS)) {
                process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        try (Stream<Path> files = Files.walk(dir)) {
            files.sorted(Comparator.reverseOrder())
                    .forEach(path -> path.toFile().delete());
        } catch (IOException e) {
            // a temporary directory left behind is not worth failing a test for
        }
    }

    private static boolean accepts(int port) {
        try (Socket socket = new Socket(InetAddress.getLoopbackAddress(), port)) {
            return true;
        } catch (IOException notYet) {
            return false;
        }
    }

    private static void requireHaproxy() {
        if (Files.isExecutable(HAPROXY)) {
            return;
        }
        String message = "haproxy is not installed: apt-get install haproxy (Debian package; CI installs it)";
        if ("true".equalsIgnoreCase(System.getenv("CI"))) {
            fail("CI: " + message);
        }
        Assumptions.abort(message);
    }
}
