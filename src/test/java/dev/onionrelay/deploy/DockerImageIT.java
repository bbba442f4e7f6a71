package dev.onionrelay.deploy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.onionrelay.support.ApiClient;
import dev.onionrelay.support.FixedPorts;
import dev.onionrelay.support.OpenSsl;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The image without Docker, after {@code mvn package}: the jar the build stage picks, extracted with the Dockerfile's
 * command, laid out by the runtime stage's COPY lines, started with its ENV and ENTRYPOINT from its WORKDIR, answers
 * its probes, passes its HEALTHCHECK and writes state into its VOLUME.
 */
class DockerImageIT {

    @TempDir
    Path work;

    private final Dockerfile dockerfile = Dockerfile.read();

    @Test
    void theImagesFileTreeStartsFromItsEntrypointAndAnswersItsProbes() throws Exception {
        Path build = Files.createDirectories(work.resolve("build"));
        Files.copy(builtJar(), build.resolve("app.jar"));
        List<String> extract = extractCommand();
        run(build, extract, Map.of());

        // The runtime stage: WORKDIR, the layers copied from the build stage, then application.yml.
        Dockerfile.Stage runtime = dockerfile.runtime();
        String workdir = runtime.last("WORKDIR").arguments().trim();
        Path root = Files.createDirectories(work.resolve("image"));
        Path app = Files.createDirectories(inImage(root, workdir));
        List<String> copiedLayers = new ArrayList<>();
        for (Dockerfile.Instruction copy : runtime.all("COPY")) {
            List<String> words = copy.words();
            Path target = words.get(1).startsWith("/") ? inImage(root, words.get(1)) : app.resolve(words.get(1));
            if (copy.flags().contains("--from=build")) {
                String source = words.get(0);
                assertThat(source).startsWith("/build/");
                Path from = build.resolve(source.substring("/build/".length()));
                copyTree(from, target);
                copiedLayers.add(from.getFileName().toString());
            } else {
                Files.copy(Path.of(words.get(0)), target);
            }
        }
        try (Stream<Path> layers = Files.list(build.resolve("extracted"))) {
            assertThat(copiedLayers)
                    .as("every layer the jar has is copied")
                    .containsExactlyInAnyOrderElementsOf(
                            layers.map(p -> p.getFileName().toString()).toList());
        }

        int apiPort = freePort();
        int managementPort = freePort();
        Map<String, String> environment = Map.of(
                "JAVA_TOOL_OPTIONS", envValue(runtime, "JAVA_TOOL_OPTIONS"),
                "SERVER_PORT", String.valueOf(apiPort),
                "MANAGEMENT_SERVER_PORT", String.valueOf(managementPort));
        List<String> entrypoint = new ArrayList<>();
        for (String word : runtime.last("ENTRYPOINT").execForm()) {
            entrypoint.add(word.startsWith("/") ? inImage(root, word).toString() : word);
        }
        entrypoint.set(0, java());
        ProcessBuilder builder = new ProcessBuilder(entrypoint)
                .directory(app.toFile())
                .redirectErrorStream(true)
                .redirectOutput(work.resolve("service.log").toFile());
        builder.environment().putAll(environment);
        Process service = builder.start();
        try {
            ApiClient management = new ApiClient(managementPort, null);
            await().atMost(Duration.ofSeconds(60))
                    .pollInterval(Duration.ofMillis(250))
                    .ignoreExceptions()
                    .until(() -> {
                        assertThat(service.isAlive())
                                .as("service exited: %s", Files.readString(work.resolve("service.log")))
                                .isTrue();
                        return management.get("/actuator/health/readiness").status() == 200;
                    });
            assertThat(management.get("/actuator/health/liveness").status()).isEqualTo(200);
            assertThat(management.get("/actuator/prometheus").body()).contains("jvm_memory_max_bytes");

            // The HEALTHCHECK, as Docker would run it in the container.
            ProcessBuilder check =
                    new ProcessBuilder(runtime.last("HEALTHCHECK").healthcheckCommand());
            check.environment().put("MANAGEMENT_SERVER_PORT", String.valueOf(managementPort));
            assertThat(run(app, check)).as("HEALTHCHECK exit code").isZero();

            // State goes to the VOLUME: the generated admin token (no tokens configured) and it works.
            Path volume = inImage(root, runtime.last("VOLUME").execForm().get(0));
            Path token = volume.resolve("admin.token");
            assertThat(token).exists();
            assertThat(new ApiClient(apiPort, Files.readString(token).trim())
                            .get("/relays")
                            .status())
                    .isEqualTo(200);
            String log = Files.readString(work.resolve("service.log"));
            assertThat(log).as("the JVM took the image's options").contains("Picked up JAVA_TOOL_OPTIONS");

            refusesWithAccessDeniedOnOpenSsl(
                    new ApiClient(apiPort, Files.readString(token).trim()));
        } finally {
            service.destroy();
            if (!service.waitFor(20, TimeUnit.SECONDS)) {
                service.destroyForcibly();
            }
        }
    }

    /**
     * A layer with {@code allow} in the packaged application, on this test's runtime (Java 17 in {@code verify}, 25 where
     * CI runs the image's runtime): it runs on the OpenSSL engine, whose native {@code access_denied} call
     * (OpenSslFatalAlerts: JNA below Java 22, the Foreign Function API from 22) binds from the image's file tree, and
     * {@code openssl s_client} without a certificate is refused with that alert.
     */
    private void refusesWithAccessDeniedOnOpenSsl(ApiClient api) throws Exception {
        for (Map<String, Object> credential : List.of(
                Map.<String, Object>of("name", "ca", "generate", Map.of("ca", true, "commonName", "image CA")),
                Map.<String, Object>of(
                        "name",
                        "hop",
                        "generate",
                        Map.of("issuer", "ca", "commonName", "hop", "dnsNames", List.of("localhost"))))) {
            ApiClient.Response created = api.post("/credentials", credential);
            assertThat(created.status()).as(created.toString()).isEqualTo(201);
        }
        ApiClient.Response relay = api.post(
                "/relays",
                Map.of(
                        "name", "gate",
                        "target", Map.of("host", "127.0.0.1", "port", 9),
                        "ingress",
                                List.of(Map.of(
                                        "credential", "hop",
                                        "trust", "ca",
                                        "clientAuth", "require",
                                        "allow", Map.of("commonNames", List.of("frontend"))))));
        assertThat(relay.status()).as(relay.toString()).isEqualTo(201);
        int port = relay.json().get("listen").get("port").asInt();

        String output = OpenSsl.execute(work, "s_client", "-connect", "127.0.0.1:" + port, "-tls1_3", "-ign_eof")
                .output();
        assertThat(output).as("what s_client reports").containsIgnoringCase("access denied");
        assertThat(Files.readString(work.resolve("service.log")))
                .contains("layers with allow run on OpenSSL")
                .doesNotContain("layers with allow run on the JDK engine");
    }

    /** The one jar in target/ that the build stage's {@code cp} glob picks. */
    private Path builtJar() throws IOException {
        String glob = DockerfileTest.jarGlob(dockerfile);
        var matcher = FileSystems.getDefault().getPathMatcher("glob:" + glob);
        try (Stream<Path> files = Files.list(Path.of("target"))) {
            List<Path> jars = files.map(p -> Path.of("target").resolve(p.getFileName()))
                    .filter(matcher::matches)
                    .toList();
            assertThat(jars).as("%s after mvn package", glob).hasSize(1);
            return jars.get(0);
        }
    }

    /** {@code java -Djarmode=tools -jar app.jar extract ...} as the build stage runs it. */
    private List<String> extractCommand() {
        for (Dockerfile.Instruction run : dockerfile.stage("build").all("RUN")) {
            for (String command : run.arguments().split("&&")) {
                String trimmed = command.strip();
                if (trimmed.startsWith("java -Djarmode=tools")) {
                    List<String> words = new ArrayList<>(List.of(trimmed.split("\\s+")));
                    words.set(0, java());
                    return words;
                }
            }
        }
        throw new AssertionError("the build stage does not extract the layers");
    }

    private static String envValue(Dockerfile.Stage stage, String name) {
        for (Dockerfile.Instruction env : stage.all("ENV")) {
            String arguments = env.arguments().trim();
            if (arguments.startsWith(name + "=")) {
                String value = arguments.substring(name.length() + 1);
                return value.startsWith("\"") ? value.substring(1, value.length() - 1) : value;
            }
        }
        throw new AssertionError("no ENV " + name);
    }

    private static void run(Path directory, List<String> command, Map<String, String> environment)
            throws IOException, InterruptedException {
        ProcessBuilder builder = new ProcessBuilder(command);
        builder.environment().putAll(environment);
        assertThat(run(directory, builder)).as("%s", command).isZero();
    }

    private static int run(Path directory, ProcessBuilder builder) throws IOException, InterruptedException {
        Process process = builder.directory(directory.toFile())
                .redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.DISCARD)
                .start();
        assertThat(process.waitFor(60, TimeUnit.SECONDS)).isTrue();
        return process.exitValue();
    }

    /** An absolute path of the image, under the directory that stands for its root. */
    private static Path inImage(Path root, String absolute) {
        return root.resolve(absolute.substring(1));
    }

    private static String java() {
        return Path.of(System.getProperty("java.home"), "bin", "java").toString();
    }

    private static void copyTree(Path from, Path to) {
        try (Stream<Path> paths = Files.walk(from)) {
            for (Path source : paths.toList()) {
                Path target = to.resolve(from.relativize(source).toString());
                if (Files.isDirectory(source)) {
                    Files.createDirectories(target);
                } else {
                    Files.copy(source, target);
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static int freePort() throws IOException {
        return FixedPorts.free();
    }
}
