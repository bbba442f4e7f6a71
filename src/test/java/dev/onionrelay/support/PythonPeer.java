package dev.onionrelay.support;

import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Runs the Python peers in {@code src/test/resources/interop} (an independent TLS implementation: CPython's ssl
 * over OpenSSL). Needs python3; CI installs it, and a missing python3 fails the test with that message.
 */
public final class PythonPeer {

    private PythonPeer() {}

    /** Exit code and stdout lines (stderr merged) of a finished peer. */
    public record Result(int exitCode, List<String> lines) {
        @Override
        public String toString() {
            return "exit " + exitCode + "\n" + String.join("\n", lines);
        }
    }

    /** The directory of the interop scripts on the test class path. */
    public static Path scripts() {
        try {
            return Path.of(PythonPeer.class
                            .getResource("/interop/nested_tls.py")
                            .toURI())
                    .getParent();
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Runs {@code python3 <script> args...} to completion, killing it after {@code timeout}. */
    public static Result run(Duration timeout, String script, String... args) throws IOException, InterruptedException {
        Process process = start(script, args);
        if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
            process.destroyForcibly();
        }
        String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        List<String> lines = new ArrayList<>(List.of(output.split("\n")));
        return new Result(process.isAlive() ? -1 : process.exitValue(), lines);
    }

    /** Starts {@code python3 <script> args...} with stderr merged into stdout. */
    public static Process start(String script, String... args) throws IOException {
        List<String> command =
                new ArrayList<>(List.of("python3", scripts().resolve(script).toString()));
        command.addAll(List.of(args));
        try {
            return new ProcessBuilder(command).redirectErrorStream(true).start();
        } catch (IOException e) {
            throw new IOException(
                    "python3 is needed for interop tests (apt-get install python3): " + e.getMessage(), e);
        }
    }
}
