package dev.onionrelay.docs;

import static org.assertj.core.api.Assertions.assertThat;

import dev.onionrelay.support.LocalServers;
import dev.onionrelay.support.Scenario;
import dev.onionrelay.support.ServiceProcess;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The README's walkthrough, live-layers and clean-up blocks, taken from README.md as a user pastes them into bash,
 * run twice in a row against a service process: every step answers as the README says it does, the live-layers
 * block prints exactly the output the README shows, the clean-up leaves nothing behind so the second run succeeds,
 * and the pop that the live-layers block performs is not a protocol violation anywhere.
 *
 * <p>The only edits to the blocks are the addresses a test cannot choose: the API port (8080 in the README), the
 * two relay ports (7100, 7101) and the token's path ({@code data-demo/admin.token}). Without the work of issue 25 the
 * clean-up block left the credentials behind (the second run got 409s) and the live-layers block pushed a layer that
 * the peer never started; a pop was counted twice as a protocol violation.
 */
@Scenario
class ReadmeWalkthroughTest {

    private static final Path README = Path.of("README.md");

    @TempDir
    Path work;

    @Test
    void theWalkthroughLiveLayersAndCleanUpBlocksWorkAsPastedTwiceInARow() throws Exception {
        String readme = Files.readString(README);
        List<String> walkthrough = bashBlocks(section(readme, "## Walkthrough with curl"));
        String liveSection = section(readme, "## Live layers");
        List<String> live = bashBlocks(liveSection);
        assertThat(walkthrough)
                .as("walkthrough: the set-up block and the clean-up block")
                .hasSize(2);
        assertThat(live).as("live layers: one block").hasSize(1);
        List<String> expectedLiveOutput = plainBlockAfter(liveSection, "What it prints");

        Path state = Files.createDirectory(work.resolve("state"));
        Path log = Path.of("target", "ReadmeWalkthroughTest-service.log");
        Files.deleteIfExists(log);
        // The held tunnels' target is the API, which closes a connection that sends no request within
        // server.tomcat.connection-timeout (10 s); the README says so. A loaded test machine can take longer than that
        // over the live-layers block (python3 starts slowly), so the test gives its target more time.
        try (ServiceProcess service = new ServiceProcess(state, log, "--server.tomcat.connection-timeout=60s")) {
            service.start();
            int exitPort = LocalServers.freePort();
            int entryPort = LocalServers.freePort();
            String script = String.join(
                    "\n",
                    walkthrough.get(0),
                    "echo '=== live'",
                    live.get(0),
                    "echo '=== clean-up'",
                    walkthrough.get(1));
            script = script.replace("http://127.0.0.1:8080", "http://127.0.0.1:" + service.apiPort())
                    .replace("\"port\":8080", "\"port\":" + service.apiPort())
                    .replace(
                            "data-demo/admin.token",
                            state.resolve("admin.token").toString())
                    .replace("7100", Integer.toString(exitPort))
                    .replace("7101", Integer.toString(entryPort));

            for (int run = 1; run <= 2; run++) {
                String output = bash(script);
                String[] parts = output.split("=== live\n|=== clean-up\n", -1);
                assertThat(parts).as("run %d printed:%n%s", run, output).hasSize(3);

                List<String> setUp = lines(parts[0]);
                assertThat(setUp.get(0)).as("run %d: the CA", run).contains("\"name\":\"my-ca\"");
                assertThat(setUp.get(1)).as("run %d: the identity", run).contains("\"name\":\"my-hop\"");
                assertThat(setUp.get(2)).as("run %d: the exit relay", run).contains("\"state\":\"LISTENING\"");
                assertThat(setUp.get(3)).as("run %d: the entry relay", run).contains("\"state\":\"LISTENING\"");
                assertThat(setUp.get(4))
                        .as("run %d: bytes through the onion", run)
                        .startsWith("{\"openapi\"");
                assertThat(setUp.get(5))
                        .as("run %d: the held tunnel's live layers", run)
                        .contains("\"relay\":\"my-entry\"", "\"depth\":2", "\"state\":\"ESTABLISHED\"");

                assertThat(lines(parts[1]))
                        .as("run %d: the live-layers block prints what the README shows", run)
                        .endsWith(expectedLiveOutput.toArray(String[]::new));
                assertThat(lines(parts[1]).get(0)).contains("\"name\":\"extra\"", "\"role\":\"server\"");
                assertThat(lines(parts[1]).get(1)).contains("\"name\":\"extra\"", "\"role\":\"client\"");

                assertThat(lines(parts[2]))
                        .as("run %d: clean-up: 409 for the credential in use, then 204 for each", run)
                        .containsExactly("409", "204", "204", "204", "204");
            }

            String metrics = service.management().get("/actuator/prometheus").body();
            assertThat(violations(metrics))
                    .as("protocol violations after two runs")
                    .isZero();
            assertThat(Files.readString(log)).doesNotContainIgnoringCase("protocol violation");
        }
    }

    /** The text from a level-2 heading to the next one (a "# " line inside a bash block is a comment). */
    private static String section(String readme, String heading) {
        int start = readme.indexOf("\n" + heading);
        assertThat(start).as("README has %s", heading).isNotNegative();
        Matcher next = Pattern.compile("\n## ").matcher(readme);
        int end = next.find(start + heading.length() + 1) ? next.start() : readme.length();
        return readme.substring(start, end);
    }

    private static List<String> bashBlocks(String text) {
        List<String> blocks = new ArrayList<>();
        Matcher block = Pattern.compile("```bash\n(.*?)```", Pattern.DOTALL).matcher(text);
        while (block.find()) {
            blocks.add(block.group(1));
        }
        return blocks;
    }

    /** The lines of the first plain ``` block after the given words. */
    private static List<String> plainBlockAfter(String text, String words) {
        int at = text.indexOf(words);
        assertThat(at).as("README says %s", words).isNotNegative();
        Matcher block = Pattern.compile("```\n(.*?)```", Pattern.DOTALL).matcher(text);
        assertThat(block.find(at)).isTrue();
        return lines(block.group(1));
    }

    private static List<String> lines(String text) {
        return text.lines().filter(line -> !line.isBlank()).toList();
    }

    private String bash(String script) throws IOException, InterruptedException {
        Path file = work.resolve("walkthrough.sh");
        Files.writeString(file, script);
        Process bash = new ProcessBuilder("bash", file.toString())
                .directory(work.toFile())
                .redirectErrorStream(true)
                .start();
        assertThat(bash.waitFor(120, TimeUnit.SECONDS)).as("the blocks finish").isTrue();
        return new String(bash.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    }

    private static double violations(String prometheus) {
        return prometheus
                .lines()
                .filter(line -> line.startsWith("onion_protocol_violations_total"))
                .mapToDouble(line -> Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1)))
                .sum();
    }
}
