package dev.onionrelay.shaping;

import dev.onionrelay.support.PythonPeer;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

/**
 * Ordinary HTTPS connections from real clients through the observation point, the negative class: half from curl (a
 * process per {@value #CONNECTIONS_PER_CURL} connections, each new connection resuming the session of an earlier one as
 * curl does, the first fresh), half from Python's http.client ({@code shaping/https_client.py}, every second
 * connection resuming the session of the one before). Request and response sizes are drawn as the
 * tunnels' are ({@link HttpRequests}); {@code requests} per connection above one makes keep-alive connections, the
 * ordinary counterpart of a tunnel that carries several requests.
 */
final class HttpsTraffic {

    static final int CONNECTIONS_PER_CURL = 10;

    private final Path directory;
    private final Path caFile;

    HttpsTraffic(Path directory, Path caFile) {
        this.directory = directory;
        this.caFile = caFile;
    }

    /** Makes {@code count} connections to {@code port} (the tap), {@code parallel} curl processes at a time. */
    void connections(int tapPort, int count, int requests, int parallel, Random random) throws Exception {
        int fromCurl = count / 2;
        List<List<HttpRequests.Size>> curlSizes = new ArrayList<>();
        for (int i = 0; i < fromCurl; i++) {
            curlSizes.add(HttpRequests.draw(random, requests));
        }
        StringBuilder pythonSizes = new StringBuilder();
        for (int i = fromCurl; i < count; i++) {
            for (HttpRequests.Size size : HttpRequests.draw(random, requests)) {
                pythonSizes.append(size.pad()).append(' ').append(size.body()).append(' ');
            }
            pythonSizes.append('\n');
        }
        Path sizesFile = Files.createTempFile(directory, "sizes", ".txt");
        Files.writeString(sizesFile, pythonSizes);

        Process python = new ProcessBuilder(
                        "python3",
                        script("https_client.py"),
                        String.valueOf(tapPort),
                        caFile.toString(),
                        sizesFile.toString())
                .redirectErrorStream(true)
                .start();
        ExecutorService workers = Executors.newFixedThreadPool(parallel);
        try {
            List<Future<?>> runs = new ArrayList<>();
            for (int first = 0; first < fromCurl; first += CONNECTIONS_PER_CURL) {
                List<List<HttpRequests.Size>> batch =
                        curlSizes.subList(first, Math.min(fromCurl, first + CONNECTIONS_PER_CURL));
                runs.add(workers.submit(() -> {
                    curl(tapPort, batch);
                    return null;
                }));
            }
            for (Future<?> run : runs) {
                run.get(120, TimeUnit.SECONDS);
            }
        } finally {
            workers.shutdownNow();
        }
        if (!python.waitFor(120, TimeUnit.SECONDS)) {
            python.destroyForcibly();
        }
        String output = new String(python.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (python.exitValue() != 0 || !output.contains("DONE " + (count - fromCurl))) {
            throw new IOException("https_client.py failed: " + output);
        }
    }

    /**
     * One curl process making one connection per element of {@code connections}, each carrying its requests, the last
     * asking to close (so the next request opens a new connection).
     */
    private void curl(int port, List<List<HttpRequests.Size>> connections) throws Exception {
        List<String> command = new ArrayList<>(List.of("curl"));
        for (List<HttpRequests.Size> sizes : connections) {
            addRequests(command, port, sizes);
        }
        Process curl = new ProcessBuilder(command).redirectErrorStream(true).start();
        if (!curl.waitFor(60, TimeUnit.SECONDS) || curl.exitValue() != 0) {
            curl.destroyForcibly();
            throw new IOException(
                    "curl failed: " + new String(curl.getInputStream().readAllBytes(), StandardCharsets.UTF_8));
        }
    }

    private void addRequests(List<String> command, int port, List<HttpRequests.Size> sizes) {
        for (int i = 0; i < sizes.size(); i++) {
            if (command.size() > 1) {
                command.add("--next");
            }
            HttpRequests.Size size = sizes.get(i);
            command.addAll(List.of(
                    "-sS",
                    "-o",
                    "/dev/null",
                    "--cacert",
                    caFile.toString(),
                    "--resolve",
                    "localhost:" + port + ":127.0.0.1",
                    "-H",
                    "X-Pad: " + "p".repeat(size.pad())));
            if (i == sizes.size() - 1) {
                command.addAll(List.of("-H", "Connection: close"));
            }
            command.add("https://localhost:" + port + "/bytes/" + size.body());
        }
    }

    private static String script(String name) {
        return PythonPeer.scripts().resolveSibling("shaping").resolve(name).toString();
    }
}
