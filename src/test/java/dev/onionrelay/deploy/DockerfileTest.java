package dev.onionrelay.deploy;

import static dev.onionrelay.deploy.Chart.get;
import static org.assertj.core.api.Assertions.assertThat;

import dev.onionrelay.support.Scenario;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.xml.parsers.DocumentBuilderFactory;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.w3c.dom.Document;
import org.w3c.dom.Element;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * The Dockerfile, checked without a Docker engine: it passes a Dockerfile linter, and what it copies, exposes, runs
 * and runs as agrees with the Maven build, the application configuration and the Helm chart. {@code DockerImageIT}
 * then assembles the image's file tree from the packaged jar and starts its entrypoint.
 */
@Scenario
class DockerfileTest {

    /**
     * The linter: dockerfile-utils (the validator behind the Dockerfile language server), pinned. CI installs it with
     * {@link #LINTER_INSTALL}; elsewhere the test is skipped until it is installed.
     */
    static final String LINTER_VERSION = "0.16.3";

    static final String LINTER_INSTALL = "npm install --prefix target/tools --no-save --no-package-lock --no-audit"
            + " --no-fund dockerfile-utils@" + LINTER_VERSION;

    private static final Path LINTER_PACKAGE =
            Path.of(System.getProperty("onion.dockerfile-utils", "target/tools/node_modules/dockerfile-utils"));

    /** Where the image keeps the exploded application. */
    private static final String APPLICATION = "/opt/onion-relay";

    private final Dockerfile dockerfile = Dockerfile.read();

    @Test
    void passesTheDockerfileLinter() throws Exception {
        requireLinter();
        JsonNode problems = lint(Dockerfile.FILE);
        assertThat(problems)
                .as("dockerfile-utils lint Dockerfile: %s", problems)
                .isEmpty();
    }

    @Test
    void theLinterCatchesWhatIsWrongInADockerfile(@TempDir Path work) throws Exception {
        requireLinter();
        Path broken = work.resolve("Dockerfile");
        Files.writeString(
                broken,
                "FROM eclipse-temurin:17-jre\nMAINTAINER someone\nEXPOSE 80a\nHEALTHCHECK --every=5s CMD true\n");
        List<String> messages = new ArrayList<>();
        lint(broken).forEach(problem -> messages.add(problem.get("message").asString()));
        assertThat(messages)
                .anyMatch(m -> m.contains("MAINTAINER"))
                .anyMatch(m -> m.contains("80a"))
                .anyMatch(m -> m.contains("every"));
    }

    @Test
    void buildsWithTheMavenWrapperAndTakesTheJarMavenPackages() throws Exception {
        Dockerfile.Stage build = dockerfile.stage("build");
        String runs = String.join(
                " && ",
                build.all("RUN").stream().map(Dockerfile.Instruction::arguments).toList());
        assertThat(runs).contains("./mvnw").contains(" package");

        Document pom = pom();
        assertThat(pom.getElementsByTagName("finalName").getLength())
                .as("the jar name the Dockerfile expects is <artifactId>-<version>.jar")
                .isZero();
        String jar = "target/" + projectElement(pom, "artifactId") + "-" + projectElement(pom, "version") + ".jar";
        String glob = jarGlob(dockerfile);
        var matcher = FileSystems.getDefault().getPathMatcher("glob:" + glob);
        assertThat(matcher.matches(Path.of(jar))).as("%s matches %s", glob, jar).isTrue();
        assertThat(matcher.matches(Path.of(jar + ".original")))
                .as("not the plain jar Boot keeps")
                .isFalse();
        assertThat(runs).contains("java -Djarmode=tools -jar app.jar extract --layers --launcher");
    }

    @Test
    void copiesOnlyWhatTheRepositoryHasAndTheDockerignoreLetsThrough() throws Exception {
        List<String> sources = new ArrayList<>();
        for (Dockerfile.Stage stage : dockerfile.stages()) {
            for (Dockerfile.Instruction copy : stage.all("COPY")) {
                if (copy.flags().stream().noneMatch(f -> f.startsWith("--from"))) {
                    List<String> words = copy.words();
                    sources.addAll(words.subList(0, words.size() - 1));
                }
            }
        }
        assertThat(sources).contains("mvnw", "pom.xml", ".mvn", "src", "application.yml");
        List<String> ignored = Files.readAllLines(Path.of(".dockerignore")).stream()
                .map(String::strip)
                .filter(line -> !line.isEmpty() && !line.startsWith("#"))
                .toList();
        for (String source : sources) {
            assertThat(Path.of(source)).exists();
            assertThat(ignored(ignored, source))
                    .as("%s is in .dockerignore", source)
                    .isFalse();
        }
        for (String local : List.of("target", ".git", "data", "data-demo", "helm")) {
            assertThat(ignored(ignored, local))
                    .as("%s stays out of the build context", local)
                    .isTrue();
        }
    }

    @Test
    void runsOnAJreAsTheUnprivilegedUserItOwnsTheStateWith() throws Exception {
        Dockerfile.Stage runtime = dockerfile.runtime();
        Matcher image = Pattern.compile("eclipse-temurin:(\\d+)-jre.*").matcher(runtime.image());
        assertThat(image.matches()).as(runtime.image()).isTrue();
        assertThat(Integer.parseInt(image.group(1)))
                .isGreaterThanOrEqualTo(Integer.parseInt(projectProperty(pom(), "java.version")));
        for (Dockerfile.Stage stage : dockerfile.stages()) {
            assertThat(stage.image()).doesNotEndWith(":latest").contains(":");
        }
        String[] user = runtime.last("USER").arguments().trim().split(":");
        assertThat(Integer.parseInt(user[0]))
                .as("numeric, so that Kubernetes can check runAsNonRoot")
                .isPositive();
        assertThat(Integer.parseInt(user[1])).isPositive();
        assertThat(String.join(
                        " ",
                        runtime.all("RUN").stream()
                                .map(Dockerfile.Instruction::arguments)
                                .toList()))
                .contains("--uid " + user[0])
                .contains("chown -R " + user[0] + ":" + user[1] + " " + stateDirectory());
    }

    @Test
    void exposesThePortsOfTheConfigurationAndTheChartsRelayPool() {
        Map<String, Object> configuration = repositoryConfiguration();
        List<String> exposed = dockerfile.runtime().all("EXPOSE").stream()
                .flatMap(e -> e.words().stream())
                .toList();
        assertThat(exposed)
                .contains(String.valueOf(get(configuration, "server.port")))
                .contains(String.valueOf(get(configuration, "management.server.port")));
        String range = exposed.stream().filter(p -> p.contains("-")).findFirst().orElseThrow();
        int low = Integer.parseInt(range.substring(0, range.indexOf('-')));
        int high = Integer.parseInt(range.substring(range.indexOf('-') + 1));
        Map<String, Object> chartValues = Chart.map(Chart.parse(Chart.read(Chart.DIRECTORY.resolve("values.yaml"))));
        int poolStart = (Integer) get(chartValues, "relayPortPool.start");
        int poolSize = (Integer) get(chartValues, "relayPortPool.size");
        assertThat(poolStart).isGreaterThanOrEqualTo(low);
        assertThat(poolStart + poolSize - 1).isLessThanOrEqualTo(high);
    }

    @Test
    void opensTheManagementPortThatTheJarKeepsOnLoopback() {
        assertThat(get(repositoryConfiguration(), "management.server.address")).isEqualTo("127.0.0.1");
        assertThat(dockerfile.runtime().all("ENV").stream().map(Dockerfile.Instruction::arguments))
                .as("probes and Prometheus reach a container from outside")
                .contains("MANAGEMENT_SERVER_ADDRESS=0.0.0.0");
    }

    @Test
    void keepsStateInAVolumeWhereTheConfigurationAndTheChartPutIt() {
        Dockerfile.Stage runtime = dockerfile.runtime();
        assertThat(runtime.last("VOLUME").execForm()).containsExactly(stateDirectory());
        assertThat(runtime.all("COPY").stream().map(Dockerfile.Instruction::arguments))
                .contains("application.yml ./application.yml");
        assertThat(get(Chart.render().applicationConfig(), "onion.state-dir")).isEqualTo(stateDirectory());
    }

    @Test
    void startsBootsLauncherWithContainerAwareMemoryAndAHealthCheck() {
        Dockerfile.Stage runtime = dockerfile.runtime();
        assertThat(runtime.last("ENTRYPOINT").execForm())
                .as("exec form: java is PID 1 and gets SIGTERM")
                .containsExactly(
                        "java",
                        "--enable-native-access=ALL-UNNAMED",
                        "--add-opens=java.base/sun.security.ssl=ALL-UNNAMED",
                        "-cp",
                        APPLICATION,
                        "org.springframework.boot.loader.launch.JarLauncher");
        // The JVM's class path is the working directory unless -cp says otherwise: there, its application.yml would be
        // found as classpath:application.yml and hide the application's own defaults.
        assertThat(runtime.last("WORKDIR").arguments().trim()).isNotEqualTo(APPLICATION);
        for (Dockerfile.Instruction copy : runtime.all("COPY")) {
            if (copy.flags().contains("--from=build")) {
                assertThat(copy.words().get(1)).isEqualTo(APPLICATION + "/");
            }
        }
        assertThat(runtime.last("ENV").arguments())
                .startsWith("JAVA_TOOL_OPTIONS=")
                .contains("-XX:MaxRAMPercentage=");
        assertThat(String.join(" ", runtime.last("HEALTHCHECK").healthcheckCommand()))
                .contains("/actuator/health/liveness")
                .contains("${MANAGEMENT_SERVER_PORT:-9090}");
    }

    /** The operator-facing application.yml at the repository root: its first document, the one without a profile. */
    private static Map<String, Object> repositoryConfiguration() {
        return Chart.parseAll(Chart.read(Path.of("application.yml"))).get(0);
    }

    /** {@code /app/data}: the configured {@code ./data} under the image's working directory. */
    private String stateDirectory() {
        Map<String, Object> configuration = repositoryConfiguration();
        String workingDirectory =
                dockerfile.runtime().last("WORKDIR").arguments().trim();
        return Path.of(workingDirectory)
                .resolve((String) get(configuration, "onion.state-dir"))
                .normalize()
                .toString();
    }

    /** The glob of the jar the build stage copies to app.jar ({@code cp target/onion-relay-*.jar app.jar}). */
    static String jarGlob(Dockerfile dockerfile) {
        for (Dockerfile.Instruction run : dockerfile.stage("build").all("RUN")) {
            Matcher cp = Pattern.compile("cp (\\S+\\.jar) app\\.jar").matcher(run.arguments());
            if (cp.find()) {
                return cp.group(1);
            }
        }
        throw new AssertionError("the build stage copies no jar to app.jar");
    }

    private static boolean ignored(List<String> patterns, String path) {
        boolean ignored = false;
        for (String pattern : patterns) {
            boolean negated = pattern.startsWith("!");
            String glob = (negated ? pattern.substring(1) : pattern).replaceFirst("^/", "");
            if (FileSystems.getDefault().getPathMatcher("glob:" + glob).matches(Path.of(path))) {
                ignored = !negated;
            }
        }
        return ignored;
    }

    private static void requireLinter() {
        if (!Files.isRegularFile(LINTER_PACKAGE.resolve("bin").resolve("dockerfile-utils"))) {
            String message = "dockerfile-utils is not installed in " + LINTER_PACKAGE + ": " + LINTER_INSTALL;
            if (System.getenv("CI") != null) {
                throw new AssertionError("CI: " + message);
            }
            Assumptions.abort(message);
        }
        assertThat(Chart.read(LINTER_PACKAGE.resolve("package.json")))
                .as("the pinned linter version")
                .contains("\"version\": \"" + LINTER_VERSION + "\"");
    }

    private static JsonNode lint(Path file) throws IOException, InterruptedException {
        Process process = new ProcessBuilder(
                        "node",
                        LINTER_PACKAGE
                                .resolve("bin")
                                .resolve("dockerfile-utils")
                                .toString(),
                        "lint",
                        "--json",
                        file.toString())
                .redirectErrorStream(true)
                .start();
        String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(process.waitFor(60, TimeUnit.SECONDS)).isTrue();
        // Exit 1 with problems, 0 without; the JSON is what counts.
        return JsonMapper.builder().build().readTree(output.substring(output.indexOf('[')));
    }

    static Document pom() throws Exception {
        return DocumentBuilderFactory.newInstance()
                .newDocumentBuilder()
                .parse(Path.of("pom.xml").toFile());
    }

    /** A direct child of {@code <project>} (not of {@code <parent>}). */
    static String projectElement(Document pom, String name) {
        Element project = pom.getDocumentElement();
        for (var node = project.getFirstChild(); node != null; node = node.getNextSibling()) {
            if (node instanceof Element element && element.getTagName().equals(name)) {
                return element.getTextContent().trim();
            }
        }
        throw new AssertionError("pom.xml has no project/" + name);
    }

    private static String projectProperty(Document pom, String name) {
        return pom.getElementsByTagName(name).item(0).getTextContent().trim();
    }
}
