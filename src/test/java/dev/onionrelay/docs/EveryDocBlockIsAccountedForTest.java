package dev.onionrelay.docs;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * Every block of the README and docs/DEPLOYMENT.md is run by a test, checked statically by one, or marked as an
 * illustration with {@code <!-- not-run: reason -->} on the line before it. A new section with a block fails here
 * until a test takes it (add its heading below, with the test that runs it) or it is marked with its reason.
 *
 * <p>What is run for real and what is checked statically, and why:
 *
 * <ul>
 *   <li>{@link ReadmeWalkthroughTest} runs the README's quick-start curl, walkthrough, rotation and replacement, live
 *       layers, {@code allow}, HTTP proxies (real Squid), half-close (real stunnel), proxy exits (real openssl origin)
 *       and clean-up blocks in bash against the service started with the demo profile. The quick start's {@code
 *       ./mvnw spring-boot:run -Dspring-boot.run.profiles=demo} is run as its equivalent from the built classes, and
 *       {@code ./mvnw verify} is the build that runs these tests: neither can run Maven inside Maven.
 *   <li>{@link FleetDocsTest} runs the README's fleet blocks and DEPLOYMENT.md's membership, migration, key
 *       rotation and backup/restore blocks for real against a throwaway PostgreSQL, with {@code java -jar} standing for
 *       the built classes.
 *   <li>{@link DeploymentDocsTest} checks the {@code docker} blocks statically (there is no Docker engine) against the
 *       Dockerfile and the service's properties, and runs the {@code helm install} blocks as {@code helm template} and
 *       {@code helm lint --strict} through helm-java (there is no {@code helm} binary and no cluster); {@code kubectl}
 *       lines are checked against the rendered objects they name.
 *   <li>The contributor commands under "Tests" are checked statically here ({@link #contributorCommandsNameWhatTheBuildHas}):
 *       they run Maven, which a test inside Maven cannot.
 * </ul>
 */
class EveryDocBlockIsAccountedForTest {

    private static final Map<String, String> README = new LinkedHashMap<>();
    private static final Map<String, String> DEPLOYMENT = new LinkedHashMap<>();

    static {
        README.put("Two commands", "ReadmeWalkthroughTest");
        README.put("Walkthrough with curl", "ReadmeWalkthroughTest");
        README.put("Rotation and replacement in place", "ReadmeWalkthroughTest");
        README.put("Live layers", "ReadmeWalkthroughTest");
        README.put("Who may connect", "ReadmeWalkthroughTest");
        README.put("Through HTTP proxies", "ReadmeWalkthroughTest");
        README.put("Half-close", "ReadmeWalkthroughTest");
        README.put("Proxy exits", "ReadmeWalkthroughTest");
        README.put("Fleet: many instances", "FleetDocsTest");
        README.put("Tests", "EveryDocBlockIsAccountedForTest");
        DEPLOYMENT.put("Container image", "DeploymentDocsTest");
        DEPLOYMENT.put("Helm chart", "DeploymentDocsTest");
        DEPLOYMENT.put("Declarative relays and file credentials", "DeploymentDocsTest");
        DEPLOYMENT.put("On Kubernetes (the chart)", "DeploymentDocsTest");
        DEPLOYMENT.put("Membership", "FleetDocsTest");
        DEPLOYMENT.put("Migrating as a step of its own", "FleetDocsTest");
        DEPLOYMENT.put("Rotating the key-encryption key", "FleetDocsTest");
        DEPLOYMENT.put("Backup and restore", "FleetDocsTest");
    }

    @Test
    void everyBlockIsRunCheckedOrMarkedAsAnIllustration() throws Exception {
        check(DocBlocks.read(Path.of("README.md")), README);
        check(DocBlocks.read(Path.of("docs", "DEPLOYMENT.md")), DEPLOYMENT);
    }

    private static void check(DocBlocks docs, Map<String, String> accounted) throws Exception {
        for (DocBlocks.Block block : docs.blocks()) {
            if (block.notRun() != null) {
                assertThat(block.notRun())
                        .as("%s: not-run needs a reason", block)
                        .isNotBlank();
                continue;
            }
            String test = accounted.entrySet().stream()
                    .filter(e -> block.heading().startsWith(e.getKey()))
                    .map(Map.Entry::getValue)
                    .findFirst()
                    .orElseThrow(() -> new AssertionError(block + ": no test runs or checks it; add its heading to "
                            + "EveryDocBlockIsAccountedForTest with the test that does, or mark it"
                            + " <!-- not-run: reason --> if it is an illustration"));
            Class.forName(EveryDocBlockIsAccountedForTest.class.getPackageName() + "." + test);
        }
    }

    @Test
    void contributorCommandsNameWhatTheBuildHas() throws Exception {
        DocBlocks readme = DocBlocks.read(Path.of("README.md"));
        List<String> blocks = readme.bashUnder("Tests");
        assertThat(blocks).hasSize(2);
        String pom = Files.readString(Path.of("pom.xml"));
        assertThat(blocks.get(0)).contains("./mvnw test -Pfast", "./mvnw spotless:apply");
        assertThat(pom).as("the fast profile").contains("<id>fast</id>");
        assertThat(pom).as("the formatter").contains("<artifactId>spotless-maven-plugin</artifactId>");
        assertThat(Path.of("mvnw")).isExecutable();

        String command = blocks.get(1).strip().split("\\s+")[0];
        Path script = Path.of(command);
        assertThat(script).as("%s", command).isExecutable();
        Process syntax = new ProcessBuilder("bash", "-n", script.toString())
                .redirectErrorStream(true)
                .start();
        assertThat(syntax.waitFor(30, TimeUnit.SECONDS)).isTrue();
        assertThat(syntax.exitValue())
                .as("bash -n %s: %s", script, new String(syntax.getInputStream().readAllBytes()))
                .isZero();
    }
}
