package dev.onionrelay.shaping;

import dev.onionrelay.support.OpenSsl;
import dev.onionrelay.support.PythonPeer;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The web server behind every traffic class ({@code shaping/http_target.py}): an ordinary HTTPS server for the
 * HTTPS clients, and the same server in plaintext as the target of the onion's exit relay.
 */
final class HttpTarget implements AutoCloseable {

    private static final Pattern LISTENING = Pattern.compile("LISTENING tls=(\\d+) plain=(\\d+)");

    final Path caFile;
    final int tlsPort;
    final int plainPort;
    private final Process process;

    HttpTarget(Path directory) throws Exception {
        // Self-signed for localhost (a P-256 key, as a web server's): the certificate is its own CA for the clients.
        caFile = directory.resolve("https-cert.pem");
        Path key = directory.resolve("https-key.pem");
        OpenSsl.run(
                directory,
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-keyout",
                key.toString(),
                "-out",
                caFile.toString(),
                "-subj",
                "/CN=localhost",
                "-addext",
                "subjectAltName=DNS:localhost,IP:127.0.0.1",
                "-days",
                "2");
        process = new ProcessBuilder(
                        "python3",
                        PythonPeer.scripts()
                                .resolveSibling("shaping")
                                .resolve("http_target.py")
                                .toString(),
                        caFile.toString(),
                        key.toString())
                .redirectErrorStream(true)
                .start();
        BufferedReader out =
                new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
        String line = out.readLine();
        Matcher ports = LISTENING.matcher(line == null ? "" : line);
        if (!ports.matches()) {
            process.destroyForcibly();
            throw new IOException("http_target.py did not start: " + line);
        }
        tlsPort = Integer.parseInt(ports.group(1));
        plainPort = Integer.parseInt(ports.group(2));
    }

    @Override
    public void close() throws IOException {
        process.getOutputStream().close();
        process.destroy();
    }
}
