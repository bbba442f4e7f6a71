package dev.onionrelay.observe;

import static org.assertj.core.api.Assertions.fail;
import static org.awaitility.Awaitility.await;

import dev.onionrelay.support.ApiClient;
import dev.onionrelay.support.FixedPorts;
import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import tools.jackson.databind.JsonNode;

/**
 * The real Prometheus server and promtool from the Debian package {@code prometheus}, driven from tests. In CI
 * ({@code CI=true}) a missing tool fails the test; elsewhere the test is skipped with a hint to install it.
 */
final class PrometheusTools {

    private PrometheusTools() {}

    /** The path of {@code tool} ({@code prometheus} or {@code promtool}), or a failure / skip when it is missing. */
    static Path require(String tool) {
        Path found = Stream.concat(
                        Stream.of(Path.of("/usr/bin", tool)),
                        Stream.of(System.getenv().getOrDefault("PATH", "").split(java.io.File.pathSeparator))
                                .filter(dir -> !dir.isBlank())
                                .map(dir -> Path.of(dir, tool)))
                .filter(Files::isExecutable)
                .findFirst()
                .orElse(null);
        if (found != null) {
            return found;
        }
        String message = tool + " is not installed: apt-get install prometheus (Debian package; .ci/run installs it)";
        if ("true".equalsIgnoreCase(System.getenv("CI"))) {
            fail("CI: " + message);
        }
        Assumptions.abort(message);
        return null;
    }

    /** The result of running a tool: exit code and everything it printed. */
    record Run(int exitCode, String output) {}

    /** Runs {@code command} with {@code stdin} as its input; at most 60 s. */
    static Run run(List<String> command, String stdin) throws IOException, InterruptedException {
        Path output = Files.createTempFile("promtool", ".out");
        try {
            Process process = new ProcessBuilder(command)
                    .redirectErrorStream(true)
                    .redirectOutput(output.toFile())
                    .start();
            try (var in = process.getOutputStream()) {
                in.write(stdin.getBytes(StandardCharsets.UTF_8));
            }
            if (!process.waitFor(60, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                fail(command + " did not finish within 60 s");
            }
            return new Run(process.exitValue(), Files.readString(output));
        } finally {
            Files.deleteIfExists(output);
        }
    }

    static int freePort() throws IOException {
        return FixedPorts.free();
    }

    /**
     * A Prometheus server on a free loopback port, with its storage in a temporary directory, scraping one target's
     * {@code /actuator/prometheus} every second and evaluating the given rule files.
     */
    static final class Server implements AutoCloseable {

        private final Path directory;
        private final Process process;
        private final int port;
        private final HttpClient http =
                HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

        Server(int managementPort, List<Path> ruleFiles) throws IOException {
            Path prometheus = require("prometheus");
            directory = Files.createTempDirectory("prometheus");
            port = freePort();
            StringBuilder rules = new StringBuilder();
            for (Path file : ruleFiles) {
                rules.append("  - '").append(file.toAbsolutePath()).append("'\n");
            }
            Files.writeString(directory.resolve("prometheus.yml"), """
                    global:
                      scrape_interval: 1s
                      scrape_timeout: 1s
                      evaluation_interval: 1s
                    rule_files:
                    %s
                    scrape_configs:
                      - job_name: onion-relay
                        metrics_path: /actuator/prometheus
                        static_configs:
                          - targets: ['127.0.0.1:%d']
                    """.formatted(
                            rules.isEmpty() ? "  []" : rules.toString().stripTrailing(), managementPort));
            process = new ProcessBuilder(
                            prometheus.toString(),
                            "--config.file=" + directory.resolve("prometheus.yml"),
                            "--storage.tsdb.path=" + directory.resolve("data"),
                            "--web.listen-address=127.0.0.1:" + port,
                            "--log.level=warn")
                    .redirectErrorStream(true)
                    .redirectOutput(directory.resolve("prometheus.log").toFile())
                    .start();
            try {
                await().atMost(Duration.ofSeconds(30))
                        .pollInterval(Duration.ofMillis(100))
                        .until(() -> {
                            if (!process.isAlive()) {
                                fail("prometheus exited with " + process.exitValue() + ":\n" + log());
                            }
                            try {
                                return get("/-/ready").statusCode() == 200;
                            } catch (java.io.UncheckedIOException notListeningYet) {
                                return false;
                            }
                        });
            } catch (RuntimeException | Error e) {
                close();
                throw e;
            }
        }

        /** Everything the server logged so far. */
        String log() {
            try {
                return Files.readString(directory.resolve("prometheus.log"));
            } catch (IOException e) {
                return "(no log: " + e + ")";
            }
        }

        private HttpResponse<String> get(String path) {
            try {
                return http.send(
                        HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
                                .timeout(Duration.ofSeconds(5))
                                .build(),
                        HttpResponse.BodyHandlers.ofString());
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException(e);
            }
        }

        /** An instant query through {@code /api/v1/query}: each series' labels (but name, job, instance) → value. */
        Map<Map<String, String>, Double> query(String promql) {
            HttpResponse<String> response =
                    get("/api/v1/query?query=" + URLEncoder.encode(promql, StandardCharsets.UTF_8));
            JsonNode body = ApiClient.JSON.readTree(response.body());
            if (response.statusCode() != 200
                    || !"success".equals(body.get("status").asString())) {
                fail("query " + promql + " answered " + response.statusCode() + ": " + response.body());
            }
            Map<Map<String, String>, Double> result = new LinkedHashMap<>();
            for (JsonNode series : body.get("data").get("result")) {
                Map<String, String> labels = new TreeMap<>();
                series.get("metric").properties().forEach(field -> {
                    if (!Set.of("__name__", "job", "instance").contains(field.getKey())) {
                        labels.put(field.getKey(), field.getValue().asString());
                    }
                });
                result.put(labels, Double.parseDouble(series.get("value").get(1).asString()));
            }
            return result;
        }

        /** The health of each loaded rule group, by group name. */
        Map<String, String> ruleHealth() {
            JsonNode body = ApiClient.JSON.readTree(get("/api/v1/rules").body());
            Map<String, String> health = new TreeMap<>();
            for (JsonNode group : body.get("data").get("groups")) {
                for (JsonNode rule : group.get("rules")) {
                    health.put(rule.get("name").asString(), rule.get("health").asString());
                }
            }
            return health;
        }

        /** The health of the scrape target: "up", "down" or "unknown", and its last error. */
        List<String> targetHealth() {
            JsonNode body = ApiClient.JSON.readTree(get("/api/v1/targets").body());
            List<String> health = new ArrayList<>();
            for (JsonNode target : body.get("data").get("activeTargets")) {
                health.add(target.get("health").asString() + " "
                        + target.get("lastError").asString());
            }
            return health;
        }

        @Override
        public void close() {
            process.destroy();
            try {
                if (!process.waitFor(10, TimeUnit.SECONDS)) {
                    process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
                }
            } catch (InterruptedException e) {
                process.destroyForcibly();
                Thread.currentThread().interrupt();
            }
            try (Stream<Path> files = Files.walk(directory)) {
                files.sorted(Comparator.reverseOrder())
                        .forEach(path -> path.toFile().delete());
            } catch (IOException ignored) {
                // A temporary directory left behind is not a test failure.
            }
        }
    }
}
