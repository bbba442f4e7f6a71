package dev.onionrelay.docs;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.onionrelay.support.Exposition;
import dev.onionrelay.support.Scenario;
import dev.onionrelay.support.ServiceProcess;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The README's blocks as a user pastes them into bash, in the README's order, against one service started as the quick
 * start starts it (the {@code demo} profile), twice in a row: every step answers as the README says it does, the
 * live-layers block prints exactly the output the README shows, every section's block removes what it made, and the
 * clean-up leaves nothing behind, so the second run of the walkthrough succeeds; the pop that the live-layers block
 * performs is not a protocol violation anywhere.
 *
 * <p>Run for real, with real peers: the demo's curl (three hops), the walkthrough, rotation and replacement in place,
 * live layers, {@code allow} per workload, HTTP proxies (a real Squid started by the block itself), half-close (a real
 * stunnel started by the block), proxy exits (a real {@code openssl s_server} origin, curl through CONNECT and SOCKS5)
 * and the clean-up. The first run runs them all, the second the walkthrough, live layers and clean-up again. The
 * quick start's {@code ./mvnw spring-boot:run -Dspring-boot.run.profiles=demo} is run as the equivalent from the built
 * classes (the test runs inside that build; {@code .ci/run} runs the command itself), {@code ./mvnw verify} is the
 * build that runs this test. The fleet block is {@link ReadmeFleetTest}'s.
 *
 * <p>The only edits to the blocks are what a test cannot choose: the fixed ports (the API's 8080, the demo's 7000-7002,
 * the relays', Squid's, stunnel's and the origin's) become free ones, {@code /tmp} becomes the test's directory, and
 * the token's path ({@code data-demo/admin.token}) the service's. Without the work of issue 25 the clean-up block left
 * the credentials behind (the second run got 409s), the live-layers block pushed a layer that the peer never started,
 * and a pop was counted twice as a protocol violation.
 */
@Scenario
class ReadmeWalkthroughTest {

    private static final Path README = Path.of("README.md");

    @TempDir
    Path work;

    @Test
    void everyReadmeBlockWorksAsPastedAndTheWalkthroughRunsTwiceInARow() throws Exception {
        DocBlocks readme = DocBlocks.read(README);
        demoCommand(readme);
        String demoCurl = readme.bashUnder("Two commands").get(1);
        List<String> walkthrough = readme.bashUnder("Walkthrough with curl");
        assertThat(walkthrough)
                .as("walkthrough: the set-up block and the clean-up block")
                .hasSize(2);
        List<String> rotation = readme.bashUnder("Rotation and replacement in place");
        assertThat(rotation).as("rotation, then replacement").hasSize(2);
        String live = readme.oneBashUnder("Live layers");
        List<String> expectedLiveOutput = plainBlockAfter(Files.readString(README), "What it prints");

        Path state = Files.createDirectory(work.resolve("state"));
        Path log = Path.of("target", "ReadmeWalkthroughTest-service.log");
        Files.deleteIfExists(log);
        PastedShell shell = new PastedShell(work)
                .freePorts(7000, 7001, 7002, 7100, 7101, 7102, 7103, 7104, 7105, 7106, 7110, 7111, 7112, 7113)
                .freePorts(7200, 3128, 7443, 8443, 8444)
                .consecutiveFreePorts(7201, 2);
        // The held tunnels' target is the API, which closes a connection that sends no request within
        // server.tomcat.connection-timeout (10 s); the README says so. A loaded test machine can take longer than that
        // over the live-layers block (python3 starts slowly), so the test gives its target more time.
        try (ServiceProcess service = new ServiceProcess(
                state,
                log,
                "--spring.profiles.active=demo",
                "--onion.demo.entry-port=" + shell.port(7000),
                "--onion.demo.h1-port=" + shell.port(7001),
                "--onion.demo.h2-port=" + shell.port(7002),
                "--server.tomcat.connection-timeout=60s")) {
            service.start();
            shell.env("MANAGEMENT", Integer.toString(service.managementPort()));
            // The demo's relays open after liveness turns UP; readiness waits for them, as a user waits for the banner.
            await().atMost(Duration.ofSeconds(120))
                    .pollInterval(Duration.ofMillis(200))
                    .ignoreExceptions()
                    .until(() -> service.management()
                                    .get("/actuator/health/readiness")
                                    .status()
                            == 200);
            shell.port(8080, service.apiPort())
                    .replace(
                            "data-demo/admin.token",
                            state.resolve("admin.token").toString());

            String first = shell.run(
                    Duration.ofMinutes(4),
                    List.of(
                            Map.entry("demo", demoCurl),
                            Map.entry("set-up", walkthrough.get(0)),
                            Map.entry("live", live),
                            Map.entry("rotation", rotation.get(0)),
                            Map.entry("violations after rotation", VIOLATIONS),
                            Map.entry("replacement", rotation.get(1)),
                            Map.entry("allow", readme.oneBashUnder("Who may connect")),
                            Map.entry("proxies", readme.oneBashUnder("Through HTTP proxies")),
                            Map.entry("half-close", readme.oneBashUnder("Half-close")),
                            Map.entry("proxy exits", readme.oneBashUnder("Proxy exits")),
                            Map.entry("clean-up", walkthrough.get(1))));
            Map<String, List<String>> run1 = PastedShell.sections(first);
            for (String line : shell.adapt(demoTopology(readme)).lines().toList()) {
                assertThat(Files.readString(log))
                        .as("the demo prints its onion as the README shows")
                        .contains(line);
            }
            assertThat(run1.get("demo"))
                    .as("the demo's three hops:%n%s", first)
                    .anyMatch(l -> l.startsWith("{\"openapi\""));
            assertWalkthrough(1, run1, expectedLiveOutput, first);
            assertRotation(run1.get("rotation"), first);
            assertReplacement(run1.get("replacement"), first);
            assertAllow(run1.get("allow"), first);
            assertProxies(run1.get("proxies"), first);
            assertHalfClose(run1.get("half-close"), first);
            assertProxyExits(run1.get("proxy exits"), shell.port(8443), first);
            assertThat(run1.get("clean-up"))
                    .as("clean-up: 409 for the credential in use, then 204 for each:%n%s", first)
                    .containsExactly("409", "204", "204", "204", "204");

            String second = shell.run(
                    Duration.ofMinutes(2),
                    List.of(
                            Map.entry("set-up", walkthrough.get(0)),
                            Map.entry("live", live),
                            Map.entry("violations after live", VIOLATIONS),
                            Map.entry("clean-up", walkthrough.get(1))));
            Map<String, List<String>> run2 = PastedShell.sections(second);
            assertWalkthrough(2, run2, expectedLiveOutput, second);
            assertThat(run2.get("clean-up"))
                    .as("second clean-up:%n%s", second)
                    .containsExactly("409", "204", "204", "204", "204");
            assertThat(service.api().get("/credentials").body())
                    .as("only the demo's credentials are left")
                    .doesNotContain("\"my-", "workloads", "stunnel-cert");

            // The rotation block's openssl s_client completes one layer of a relay that peels two, and closes it while
            // the inner handshake waits: a set-up given up, not a protocol violation. Nothing is one: not that, not the
            // pops of the live-layers block, not the refused workload, not the proxies.
            List<String> violationLines = Files.readString(log)
                    .lines()
                    .filter(line -> line.toLowerCase(java.util.Locale.ROOT).contains("protocol violation"))
                    .toList();
            assertThat(violationLines).as("violations logged over two runs").isEmpty();
            // Counted per relay (a deleted relay's meters go with it), so read while the relays exist.
            assertThat(violations(run1.get("violations after rotation")))
                    .as("s_client leaving the outer layer: %s", run1.get("violations after rotation"))
                    .isZero();
            assertThat(violations(run2.get("violations after live")))
                    .as("the pops of the live-layers block are no violation")
                    .isZero();
        }
    }

    /** The quick start's first block: the demo command and the test command, as the README shows them. */
    private static void demoCommand(DocBlocks readme) {
        String block = readme.bashUnder("Two commands").get(0);
        assertThat(block)
                .contains("./mvnw spring-boot:run -Dspring-boot.run.profiles=demo")
                .contains("./mvnw verify");
        assertThat(Path.of("src/main/resources/application-demo.yml")).exists();
    }

    /** The plain block of the quick start: the onion the demo prints. */
    private static String demoTopology(DocBlocks readme) {
        List<DocBlocks.Block> plain = readme.under("Two commands").stream()
                .filter(b -> b.language().isEmpty())
                .toList();
        assertThat(plain).hasSize(1);
        return plain.get(0).text().strip();
    }

    private static void assertWalkthrough(
            int run, Map<String, List<String>> sections, List<String> expectedLiveOutput, String printed) {
        List<String> setUp = sections.get("set-up");
        assertThat(setUp).as("run %d printed:%n%s", run, printed).hasSizeGreaterThanOrEqualTo(6);
        assertThat(setUp.get(0)).as("run %d: the CA", run).contains("\"name\":\"my-ca\"");
        assertThat(setUp.get(1)).as("run %d: the identity", run).contains("\"name\":\"my-hop\"");
        assertThat(setUp.get(2)).as("run %d: the exit relay", run).contains("\"state\":\"LISTENING\"");
        assertThat(setUp.get(3)).as("run %d: the entry relay", run).contains("\"state\":\"LISTENING\"");
        assertThat(setUp.get(4)).as("run %d: bytes through the onion", run).startsWith("{\"openapi\"");
        assertThat(setUp.get(5))
                .as("run %d: the held tunnel's live layers", run)
                .contains("\"relay\":\"my-entry\"", "\"depth\":2", "\"state\":\"ESTABLISHED\"")
                // the fields the README's example status shows
                .contains("\"bytesIn\"", "\"bytesOut\"", "\"minDepth\"", "\"protocol\":\"TLSv1.3\"", "\"cipher\"")
                .contains("\"peer\":\"CN=localhost\"", "\"provider\":\"OPENSSL\"", "\"handshakeMillis\"");

        List<String> live = sections.get("live");
        assertThat(live)
                .as("run %d: the live-layers block prints what the README shows:%n%s", run, printed)
                .endsWith(expectedLiveOutput.toArray(String[]::new));
        assertThat(live.get(0)).contains("\"name\":\"extra\"", "\"role\":\"server\"");
        assertThat(live.get(1)).contains("\"name\":\"extra\"", "\"role\":\"client\"");
    }

    private static void assertRotation(List<String> lines, String printed) {
        assertThat(lines).as("rotation:%n%s", printed).hasSize(2);
        assertThat(lines.get(0)).contains("\"name\":\"my-hop\"", "\"version\":2");
        Matcher serial = Pattern.compile("\"serial\":\"([^\"]+)\"").matcher(lines.get(0));
        assertThat(serial.find()).isTrue();
        assertThat(lines.get(1))
                .as("the exit's next handshake presents the new certificate")
                .startsWith("serial=");
        assertThat(hex(lines.get(1).substring("serial=".length()))).isEqualTo(hex(serial.group(1)));
    }

    private static String hex(String serial) {
        return serial.replaceAll("[^0-9A-Fa-f]", "").toUpperCase().replaceFirst("^0+", "");
    }

    private static void assertReplacement(List<String> lines, String printed) {
        assertThat(lines).as("replacement:%n%s", printed).hasSize(3);
        assertThat(lines.get(0)).contains("\"name\":\"my-exit\"", "\"revision\":2", "\"name\":\"core\"");
        assertThat(lines.get(1)).contains("\"name\":\"my-entry\"", "\"revision\":2", "\"name\":\"core\"");
        assertThat(lines.get(2)).as("bytes through the depth-3 onion").startsWith("{\"openapi\"");
    }

    private static void assertAllow(List<String> lines, String printed) {
        assertThat(lines).as("allow:%n%s", printed).hasSize(8);
        assertThat(lines.get(0)).contains("\"name\":\"workloads\"");
        assertThat(lines.get(1)).contains("\"name\":\"frontend\"", "spiffe://prod.example/ns/web/sa/frontend");
        assertThat(lines.get(2)).contains("\"name\":\"batch\"");
        for (String relay : lines.subList(3, 6)) {
            assertThat(relay).contains("\"state\":\"LISTENING\"");
        }
        assertThat(lines.get(6))
                .as("through frontend-entry the API asks for a token")
                .isEqualTo("401");
        assertThat(lines.get(7)).as("through batch-entry nothing answers").isEqualTo("000");
    }

    private static void assertProxies(List<String> lines, String printed) {
        assertThat(lines).as("proxies:%n%s", printed).hasSizeGreaterThanOrEqualTo(8);
        assertThat(lines.get(0)).contains("\"name\":\"via-squid\"", "\"state\":\"LISTENING\"");
        assertThat(lines.get(1)).as("through Squid to the API").startsWith("{\"openapi\"");
        assertThat(lines.get(2)).contains("\"name\":\"https-proxy\"", "\"state\":\"LISTENING\"");
        assertThat(lines.get(3)).contains("\"name\":\"via-hop\"", "\"state\":\"LISTENING\"");
        assertThat(lines.get(4)).as("through the HTTPS proxy hop to the API").startsWith("{\"openapi\"");
        assertThat(lines.get(5)).contains("\"name\":\"to-haproxy\"", "\"proxyProtocol\":\"v2\"");
        assertThat(lines.subList(6, lines.size()))
                .as("Squid's access log: one CONNECT per tunnel")
                .filteredOn(l -> l.contains("TCP_TUNNEL/200") && l.contains("CONNECT"))
                .hasSize(2);
    }

    private static void assertHalfClose(List<String> lines, String printed) {
        assertThat(lines).as("half-close:%n%s", printed).hasSize(5);
        assertThat(lines.get(0)).contains("\"name\":\"stunnel-cert\"");
        assertThat(lines.get(1)).contains("\"name\":\"to-stunnel\"", "\"halfClose\":\"hold\"");
        assertThat(lines.get(2)).as("through the relay and stunnel to the API").startsWith("{\"openapi\"");
        assertThat(lines.subList(3, 5)).containsExactly("204", "204");
    }

    private static void assertProxyExits(List<String> lines, int originPort, String printed) {
        assertThat(lines).as("proxy exits:%n%s", printed).hasSize(8);
        assertThat(lines.get(0)).contains("\"name\":\"connect-exit\"", "\"state\":\"LISTENING\"");
        assertThat(lines.get(1)).contains("\"name\":\"connect-entry\"", "\"state\":\"LISTENING\"");
        assertThat(lines.get(2)).as("the origin's file through CONNECT").isEqualTo("hello");
        assertThat(lines.get(3)).contains("\"name\":\"socks-exit\"", "\"state\":\"LISTENING\"");
        assertThat(lines.get(4)).contains("\"name\":\"socks-entry\"", "\"state\":\"LISTENING\"");
        assertThat(lines.get(5)).as("the origin's file through SOCKS5").isEqualTo("hello");
        assertThat(lines.get(6)).as("a destination policy refuses").isEqualTo("403");
        assertThat(lines.get(7))
                .as("the held SOCKS5 tunnel's status")
                .contains("\"requested\":\"localhost:" + originPort + "\"", "\"connected\"");
    }

    /** The lines of the first plain ``` block after the given words. */
    private static List<String> plainBlockAfter(String text, String words) {
        int at = text.indexOf(words);
        assertThat(at).as("README says %s", words).isNotNegative();
        Matcher block = Pattern.compile("```\n(.*?)```", Pattern.DOTALL).matcher(text);
        assertThat(block.find(at)).isTrue();
        return block.group(1).lines().filter(line -> !line.isBlank()).toList();
    }

    /** Prints the protocol violation counters (nothing while none was registered). */
    private static final String VIOLATIONS =
            "curl -s http://127.0.0.1:$MANAGEMENT/actuator/prometheus | grep '^onion_protocol_violations_total' || true";

    private static double violations(List<String> prometheus) {
        return Exposition.parse(String.join("\n", prometheus)).sum("onion_protocol_violations_total", Map.of());
    }
}
