package dev.onionrelay.support;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.awaitility.Awaitility;

/**
 * An echo target on loopback with a read pattern of its own: the peers a tunnel meets are not all as patient as our
 * {@link EchoServer}, and a deadlock that needs the target to stop reading while its writes are blocked shows only
 * with such a peer.
 */
public final class EchoTarget implements AutoCloseable {

    /** How the target reads and writes. */
    public enum Kind {
        /**
         * socat with a pipe: one process; while its write to the socket blocks, it reads nothing. With 4 KiB transfers:
         * with its default 8 KiB, socat deadlocks by itself (no relay involved) once a slow reader fills the pipe, since
         * select reports a pipe writable with one free page and the 8 KiB write then blocks the only process that
         * empties it (seen with a plain client that pauses while reading).
         */
        SOCAT,
        /** Python asyncio streams with drain(): reading pauses while its write buffer is full. */
        PYTHON_ASYNCIO,
        /** Python, a thread per connection doing recv then sendall: a blocked send stops reading. */
        PYTHON_THREADS,
        /** {@link EchoServer}: a Java thread per connection. */
        JAVA
    }

    private final Kind kind;
    private final int port;
    private final Process process;
    private final EchoServer javaServer;

    private EchoTarget(Kind kind, int port, Process process, EchoServer javaServer) {
        this.kind = kind;
        this.port = port;
        this.process = process;
        this.javaServer = javaServer;
    }

    /**
     * Starts one. socat must be installed (Debian package socat): in CI its absence fails the test, elsewhere the
     * test is skipped with that message. The Python ones need python3.
     */
    public static EchoTarget start(Kind kind) throws IOException {
        return switch (kind) {
            case SOCAT -> socat();
            case PYTHON_ASYNCIO -> python(kind, "asyncio");
            case PYTHON_THREADS -> python(kind, "threads");
            case JAVA -> {
                EchoServer server = new EchoServer();
                yield new EchoTarget(kind, server.port(), null, server);
            }
        };
    }

    private static EchoTarget socat() throws IOException {
        Path socat = LocalServers.require("socat", "socat", Path.of("/usr/bin/socat"), Path.of("/bin/socat"));
        int port = LocalServers.freePort();
        Process process = new ProcessBuilder(
                        socat.toString(), "-b4096", "TCP-LISTEN:" + port + ",bind=127.0.0.1,reuseaddr,fork", "PIPE")
                .redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.DISCARD)
                .start();
        EchoTarget target = new EchoTarget(Kind.SOCAT, port, process, null);
        try {
            Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> LocalServers.accepts(port));
        } catch (RuntimeException notUp) {
            target.close();
            throw notUp;
        }
        return target;
    }

    private static EchoTarget python(Kind kind, String mode) throws IOException {
        Path script = Path.of(
                PythonPeer.scripts().getParent().resolve("echo/echo_server.py").toString());
        Process process = new ProcessBuilder(List.of("python3", script.toString(), mode))
                .redirectError(ProcessBuilder.Redirect.DISCARD)
                .start();
        BufferedReader out =
                new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
        String line = out.readLine();
        if (line == null) {
            LocalServers.stop(process);
            throw new IOException("the " + mode + " echo target did not start (python3 needed)");
        }
        return new EchoTarget(kind, Integer.parseInt(line.trim()), process, null);
    }

    public Kind kind() {
        return kind;
    }

    public int port() {
        return port;
    }

    @Override
    public void close() {
        if (process != null) {
            // socat forks a child per connection; they end with their connections, which the test has closed.
            process.descendants().forEach(ProcessHandle::destroy);
            LocalServers.stop(process);
        }
        if (javaServer != null) {
            try {
                javaServer.close();
            } catch (Exception e) {
                // a loopback listener that does not close is not worth failing a test for
            }
        }
    }

    @Override
    public String toString() {
        return kind.name().toLowerCase(java.util.Locale.ROOT);
    }
}
