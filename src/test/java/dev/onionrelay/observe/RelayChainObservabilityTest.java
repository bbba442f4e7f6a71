package dev.onionrelay.observe;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.onionrelay.support.ApiClient;
import dev.onionrelay.support.ApiClient.Response;
import dev.onionrelay.support.EchoServer;
import dev.onionrelay.support.Exposition;
import dev.onionrelay.support.RunningService;
import dev.onionrelay.support.Scenario;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.Socket;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;

/**
 * One running service with a depth-2 chain, observed the way an operator would: through a real Prometheus server,
 * promtool, and {@code /actuator/onion} and {@code /actuator/info} on the management port.
 *
 * <p>The chain is {@code entry [egress outer, inner] -> exit [ingress outer, inner] -> echo}. Next to the good entry
 * there are two entries into the same exit that trust another CA on one layer each, so each layer of the exit and of
 * the chain fails exactly once and succeeds at least once:
 *
 * <ul>
 *   <li>{@code entry}: a client holds one tunnel open through both layers; its {@code maxTunnels} is 1, so a second
 *       client is rejected at accept;
 *   <li>{@code entry-wrong-ca-outer}: fails on {@code outer}; the exit receives the alert on its {@code outer};
 *   <li>{@code entry-wrong-ca-inner}: {@code outer} succeeds, {@code inner} fails, on both relays;
 *   <li>{@code dead-end}: no layers, its target port is closed: one connect failure.
 * </ul>
 *
 * The side that detects an untrusted certificate names it {@code unknown_ca}; the exit receives the alert the engine
 * puts on the wire for it: {@code unknown_ca} from OpenSSL, the default, {@code certificate_unknown} from the JDK
 * engine (see HandshakeFailureTest).
 */
@Scenario
class RelayChainObservabilityTest {

    static final Duration PATIENCE = Duration.ofSeconds(20);
    static final byte[] HELLO = "hello through two layers\n".getBytes(StandardCharsets.US_ASCII);
    static final String UNTRUSTED_HERE = "unknown_ca";
    static final String ALERT_RECEIVED = dev.onionrelay.relay.HandshakeFailureTest.alertSentFor(UNTRUSTED_HERE);
    static final Path RULES = Path.of("deploy/prometheus/onion-relay.rules.yml");
    static final Path DASHBOARD = Path.of("deploy/prometheus/grafana-dashboard.json");

    static RunningService service;
    static ApiClient api;
    static ApiClient management;
    static EchoServer echo;
    static Socket heldOpen;
    static Map<String, String> ids = new TreeMap<>();

    @BeforeAll
    static void driveTrafficAndFailures() throws Exception {
        service = RunningService.inTemporaryDirectory();
        api = service.api();
        management = service.management();
        echo = new EchoServer();
        create("/credentials", Map.of("name", "ca", "generate", Map.of("ca", true, "commonName", "chain CA")));
        create("/credentials", Map.of("name", "other", "generate", Map.of("ca", true, "commonName", "other CA")));
        create(
                "/credentials",
                Map.of(
                        "name",
                        "hop",
                        "generate",
                        Map.of(
                                "issuer",
                                "ca",
                                "commonName",
                                "localhost",
                                "dnsNames",
                                List.of("localhost"),
                                "ipAddresses",
                                List.of("127.0.0.1"))));

        int exit = relay(
                "exit",
                echo.port(),
                List.of(Map.of("name", "outer", "credential", "hop"), Map.of("name", "inner", "credential", "hop")),
                List.of(),
                Map.of());
        int entry = relay("entry", exit, List.of(), egress("ca", "ca"), Map.of("maxTunnels", 1));
        int wrongOuter = relay("entry-wrong-ca-outer", exit, List.of(), egress("other", "ca"), Map.of());
        int wrongInner = relay("entry-wrong-ca-inner", exit, List.of(), egress("ca", "other"), Map.of());
        int deadEnd = relay("dead-end", PrometheusTools.freePort(), List.of(), List.of(), Map.of());

        // One good tunnel through both layers, held open: bytes come back, so every handshake on the way succeeded.
        heldOpen = new Socket(InetAddress.getLoopbackAddress(), entry);
        heldOpen.setSoTimeout((int) PATIENCE.toMillis());
        heldOpen.getOutputStream().write(HELLO);
        assertThat(heldOpen.getInputStream().readNBytes(HELLO.length)).isEqualTo(HELLO);

        // The entry is at its limit of one tunnel: the next connection is closed at accept.
        assertThat(isDisconnected(entry))
                .as("bytes back from the rejected connection")
                .isEmpty();

        assertThat(isDisconnected(wrongOuter))
                .as("bytes back through entry-wrong-ca-outer")
                .isEmpty();
        await().atMost(PATIENCE).untilAsserted(() -> assertThat(relayReport("exit")
                        .get("handshakeFailures")
                        .get("total")
                        .asLong())
                .isEqualTo(1));
        assertThat(isDisconnected(wrongInner))
                .as("bytes back through entry-wrong-ca-inner")
                .isEmpty();
        assertThat(isDisconnected(deadEnd)).as("bytes back through dead-end").isEmpty();

        await().atMost(PATIENCE).untilAsserted(() -> {
            JsonNode report = management.get("/actuator/onion").json();
            assertThat(report.get("handshakes").get("failed").asLong()).isEqualTo(4);
            assertThat(report.get("tunnelCount").asInt())
                    .as("only the held tunnel, on two relays")
                    .isEqualTo(2);
        });
    }

    @AfterAll
    static void stop() throws Exception {
        if (heldOpen != null) {
            heldOpen.close();
        }
        if (service != null) {
            service.close();
        }
        if (echo != null) {
            echo.close();
        }
    }

    // --- Prometheus ---------------------------------------------------------------------------------------------

    @Test
    void realPrometheusSeesFailuresPerLayerAndReasonDepthTunnelsAndHandshakeCounts() throws Exception {
        try (PrometheusTools.Server prometheus =
                new PrometheusTools.Server(service.managementPort(), List.of(RULES.toAbsolutePath()))) {
            try {
                await().atMost(PATIENCE).untilAsserted(() -> assertThat(
                                prometheus.query("onion_handshake_failures_total"))
                        .as("onion_handshake_failures_total")
                        .isEqualTo(Map.of(
                                labels("relay", "exit", "side", "ingress", "layer", "outer", "reason", ALERT_RECEIVED),
                                1.0,
                                labels("relay", "exit", "side", "ingress", "layer", "inner", "reason", ALERT_RECEIVED),
                                1.0,
                                labels(
                                        "relay",
                                        "entry-wrong-ca-outer",
                                        "side",
                                        "egress",
                                        "layer",
                                        "outer",
                                        "reason",
                                        UNTRUSTED_HERE),
                                1.0,
                                labels(
                                        "relay",
                                        "entry-wrong-ca-inner",
                                        "side",
                                        "egress",
                                        "layer",
                                        "inner",
                                        "reason",
                                        UNTRUSTED_HERE),
                                1.0)));

                // Successful handshakes per layer: the exit's outer layer also succeeded for entry-wrong-ca-inner.
                Map<Map<String, String>, Double> handshakes = new LinkedHashMap<>();
                handshakes.put(labels("relay", "exit", "side", "ingress", "layer", "outer"), 2.0);
                handshakes.put(labels("relay", "exit", "side", "ingress", "layer", "inner"), 1.0);
                handshakes.put(labels("relay", "entry", "side", "egress", "layer", "outer"), 1.0);
                handshakes.put(labels("relay", "entry", "side", "egress", "layer", "inner"), 1.0);
                handshakes.put(labels("relay", "entry-wrong-ca-outer", "side", "egress", "layer", "outer"), 0.0);
                handshakes.put(labels("relay", "entry-wrong-ca-outer", "side", "egress", "layer", "inner"), 0.0);
                handshakes.put(labels("relay", "entry-wrong-ca-inner", "side", "egress", "layer", "outer"), 1.0);
                handshakes.put(labels("relay", "entry-wrong-ca-inner", "side", "egress", "layer", "inner"), 0.0);
                assertThat(prometheus.query("onion_handshake_seconds_count"))
                        .as("onion_handshake_seconds_count")
                        .isEqualTo(handshakes);

                Map<Map<String, String>, Double> depth = new LinkedHashMap<>();
                for (String relay : ids.keySet()) {
                    int ingress = relay.equals("exit") ? 2 : 0;
                    int egress = relay.startsWith("entry") ? 2 : 0;
                    depth.put(labels("relay", relay, "side", "ingress"), (double) ingress);
                    depth.put(labels("relay", relay, "side", "egress"), (double) egress);
                }
                assertThat(prometheus.query("onion_layer_depth"))
                        .as("onion_layer_depth")
                        .isEqualTo(depth);

                assertThat(prometheus.query("onion_tunnels_active"))
                        .as("onion_tunnels_active")
                        .isEqualTo(Map.of(
                                labels("relay", "entry"), 1.0,
                                labels("relay", "exit"), 1.0,
                                labels("relay", "entry-wrong-ca-outer"), 0.0,
                                labels("relay", "entry-wrong-ca-inner"), 0.0,
                                labels("relay", "dead-end"), 0.0));
                assertThat(prometheus.query("onion_layers_active{relay=~\"entry|exit\"} > 0"))
                        .as("live layers of the held tunnel")
                        .isEqualTo(Map.of(
                                labels("relay", "entry", "side", "egress"), 2.0,
                                labels("relay", "exit", "side", "ingress"), 2.0));
                assertThat(prometheus.query("onion_tunnels_rejected_total"))
                        .isEqualTo(Map.of(labels("relay", "entry", "reason", "max_tunnels"), 1.0));
                assertThat(prometheus.query("onion_connect_failures_total"))
                        .isEqualTo(Map.of(labels("relay", "dead-end", "reason", "refused"), 1.0));
                assertThat(prometheus.query("onion_relays"))
                        .isEqualTo(Map.of(
                                labels("state", "LISTENING"), 5.0,
                                labels("state", "FAILED"), 0.0,
                                labels("state", "STOPPED"), 0.0));
                assertThat(prometheus.query(
                                "sum by (relay, side, layer) (onion_handshakes_total{outcome=\"failure\"}) > 0"))
                        .as("failed handshakes by outcome agree with failures by reason")
                        .hasSize(4)
                        .allSatisfy((series, value) -> assertThat(value).isEqualTo(1.0));
                assertThat(prometheus.query("onion_bytes_total{relay=\"entry\"}"))
                        .isEqualTo(Map.of(
                                labels("relay", "entry", "direction", "in"), (double) HELLO.length,
                                labels("relay", "entry", "direction", "out"), (double) HELLO.length));
                // The alert rules load and evaluate in a real server (their logic is tested by promtool).
                await().atMost(PATIENCE).untilAsserted(() -> assertThat(prometheus.ruleHealth())
                        .isNotEmpty()
                        .allSatisfy(
                                (rule, health) -> assertThat(health).as(rule).isEqualTo("ok")));
            } catch (AssertionError | RuntimeException e) {
                System.out.println("prometheus targets: " + prometheus.targetHealth());
                System.out.println("prometheus log:\n" + prometheus.log());
                throw e;
            }
        }
    }

    @Test
    void promtoolAcceptsTheScrapedExposition() throws Exception {
        Path promtool = PrometheusTools.require("promtool");
        Response scrape = management.get("/actuator/prometheus");
        assertThat(scrape.status()).isEqualTo(200);

        // The onion_ families alone: no finding at all.
        StringBuilder onion = new StringBuilder();
        for (String line : scrape.body().split("\n")) {
            if (line.startsWith("onion_") || line.matches("# (HELP|TYPE) onion_.*")) {
                onion.append(line).append('\n');
            }
        }
        PrometheusTools.Run ours =
                PrometheusTools.run(List.of(promtool.toString(), "check", "metrics"), onion.toString());
        assertThat(ours.exitCode())
                .as("promtool check metrics on onion_*:\n%s", ours.output())
                .isZero();
        assertThat(ours.output()).as("promtool findings on onion_*").isBlank();

        // The whole exposition, JVM, process, Tomcat and HTTP meters included: no finding either.
        PrometheusTools.Run all = PrometheusTools.run(List.of(promtool.toString(), "check", "metrics"), scrape.body());
        assertThat(all.exitCode())
                .as("promtool check metrics:\n%s", all.output())
                .isZero();
        assertThat(all.output()).as("promtool findings on the whole scrape").isBlank();
    }

    // --- every metric of API.md, bounded labels -----------------------------------------------------------------

    @Test
    void everyMetricOfApiMdIsExposedWithItsLabelsAndType() {
        Exposition exposition = scrape();
        Map<String, List<String>> table = new LinkedHashMap<>();
        table.put("onion_relays", List.of("state"));
        table.put("onion_tunnels_active", List.of("relay"));
        table.put("onion_tunnels_opened_total", List.of("relay"));
        table.put("onion_layer_depth", List.of("relay", "side"));
        table.put("onion_layers_active", List.of("relay", "side"));
        table.put("onion_layers_active_by_provider", List.of("relay", "side", "provider"));
        table.put("onion_handshakes_total", List.of("relay", "side", "layer", "outcome"));
        table.put("onion_handshake_failures_total", List.of("relay", "side", "layer", "reason"));
        table.put("onion_handshake_seconds_bucket", List.of("relay", "side", "layer", "le"));
        table.put("onion_handshake_seconds_count", List.of("relay", "side", "layer"));
        table.put("onion_handshake_seconds_sum", List.of("relay", "side", "layer"));
        table.put("onion_layer_pushes_total", List.of("relay", "side", "initiator"));
        table.put("onion_layer_pops_total", List.of("relay", "side", "initiator"));
        table.put("onion_bytes_total", List.of("relay", "direction"));
        table.put("onion_connect_failures_total", List.of("relay", "reason"));
        table.put("onion_target_connects_total", List.of("relay", "target", "outcome"));
        table.forEach((metric, labelNames) -> {
            List<Exposition.Sample> samples = exposition.samples(metric, Map.of());
            assertThat(samples).as("samples of %s", metric).isNotEmpty();
            assertThat(samples)
                    .as("label names of %s", metric)
                    .allSatisfy(s -> assertThat(s.labels().keySet()).containsExactlyInAnyOrderElementsOf(labelNames));
        });
        Map<String, String> types = exposition.types();
        assertThat(types.get("onion_relays")).isEqualTo("gauge");
        assertThat(types.get("onion_tunnels_active")).isEqualTo("gauge");
        assertThat(types.get("onion_layer_depth")).isEqualTo("gauge");
        assertThat(types.get("onion_layers_active")).isEqualTo("gauge");
        assertThat(types.get("onion_layers_active_by_provider")).isEqualTo("gauge");
        assertThat(types.get("onion_handshake_seconds")).isEqualTo("histogram");
        for (String counter : List.of(
                "onion_tunnels_opened",
                "onion_handshakes",
                "onion_handshake_failures",
                "onion_layer_pushes",
                "onion_layer_pops",
                "onion_bytes",
                "onion_connect_failures",
                "onion_target_connects")) {
            String type = types.getOrDefault(counter, types.get(counter + "_total"));
            assertThat(type).as("type of %s_total", counter).isEqualTo("counter");
        }
    }

    @Test
    void labelValuesAreRelayAndConfiguredLayerNamesNeverPeersOrTunnelIds() {
        Exposition exposition = scrape();
        Map<String, Set<String>> allowed = new HashMap<>(Map.of(
                "relay", ids.keySet(),
                "side", Set.of("ingress", "egress"),
                "layer", Set.of("outer", "inner"),
                "direction", Set.of("in", "out"),
                "outcome",
                        Set.of(
                                "success",
                                "failure",
                                "connected",
                                "refused",
                                "timeout",
                                "unresolved",
                                "policy",
                                "other"),
                "target", Set.of("0"),
                "initiator", Set.of("local", "peer"),
                "state", Set.of("LISTENING", "FAILED", "STOPPED"),
                "provider", Set.of("JDK", "OPENSSL"),
                // per_address_limit and head_timeout: onion_api_connections_closed_total, the API port's guards.
                "reason",
                        new HashSet<>(List.of(
                                UNTRUSTED_HERE,
                                ALERT_RECEIVED,
                                "max_tunnels",
                                "refused",
                                "per_address_limit",
                                "head_timeout"))));
        // Engine-wide: where a file descriptor was missing.
        allowed.put("where", Set.of("accept", "connect"));
        Set<String> tunnelIds = new HashSet<>();
        for (String relay : List.of("entry", "exit")) {
            api.get("/relays/" + relay + "/tunnels")
                    .json()
                    .forEach(t -> tunnelIds.add(t.get("id").asString()));
        }
        assertThat(tunnelIds).hasSize(2);
        // onion_credential_* (file credential reloads, labelled by configured credential names) are not relay metrics.
        List<Exposition.Sample> onion = exposition.samples().stream()
                .filter(s -> s.name().startsWith("onion_") && !s.name().startsWith("onion_credential_"))
                .toList();
        assertThat(onion).hasSizeGreaterThan(100);
        for (Exposition.Sample sample : onion) {
            sample.labels().forEach((name, value) -> {
                if (name.equals("le")) {
                    return;
                }
                assertThat(allowed).as("label %s of %s", name, sample.name()).containsKey(name);
                assertThat(allowed.get(name))
                        .as("value of label %s of %s", name, sample.name())
                        .contains(value);
                assertThat(value).doesNotContain("127.0.0.1").isNotIn(tunnelIds);
            });
        }
    }

    @Test
    void alertRulesAndDashboardOnlyUseMetricsTheServiceExposes() throws IOException {
        // Exposed with the postgres store only; StoreMetricsPrometheusTest scrapes them and runs their alerts.
        Set<String> fleetOnly = Set.of("onion_store_up", "onion_store_sync_age_seconds");
        Set<String> exposed = new HashSet<>();
        scrape().samples().forEach(s -> exposed.add(s.name()));
        Pattern metric = Pattern.compile("\\bonion_[a-z_]+");
        for (Path file : List.of(RULES, DASHBOARD)) {
            String text = Files.readString(file);
            if (file.toString().endsWith(".json")) {
                assertThat(ApiClient.JSON.readTree(text).get("panels"))
                        .as("%s panels", file)
                        .isNotEmpty();
            }
            List<String> used = new ArrayList<>();
            Matcher matcher = metric.matcher(text);
            while (matcher.find()) {
                used.add(matcher.group());
            }
            assertThat(used).as("metrics used in %s", file).isNotEmpty();
            assertThat(used.stream().distinct().filter(m -> !fleetOnly.contains(m)))
                    .as("metrics used in %s", file)
                    .allSatisfy(m -> assertThat(exposed).as("exposed series").contains(m));
        }
    }

    // --- /actuator/onion ----------------------------------------------------------------------------------------

    /** Counts by reason, summed where two of them are the same reason. */
    @SafeVarargs
    private static Map<String, Long> counted(Map.Entry<String, Long>... counts) {
        Map<String, Long> result = new TreeMap<>();
        for (Map.Entry<String, Long> count : counts) {
            result.merge(count.getKey(), count.getValue(), Long::sum);
        }
        return result;
    }

    @Test
    void actuatorOnionReportsConfiguredAndLiveDepthFailuresByLayerAndReasonAndLastFailure() {
        JsonNode report = management.get("/actuator/onion").json();
        assertThat(report.get("relayCount").asInt()).isEqualTo(5);
        assertThat(report.get("tunnelCount").asInt()).isEqualTo(2);
        assertThat(report.get("provider").asString())
                .as("the configured choice; each layer shows its engine")
                .isEqualTo("AUTO");
        assertThat(report.get("layerDepth").get("maxConfigured").asInt()).isEqualTo(2);
        assertThat(report.get("layerDepth").get("maxLive").asInt()).isEqualTo(2);
        JsonNode handshakes = report.get("handshakes");
        // exit: outer 2 + inner 1; entry: 2; entry-wrong-ca-inner: outer 1.
        assertThat(handshakes.get("succeeded").asLong()).isEqualTo(6);
        assertThat(handshakes.get("failed").asLong()).isEqualTo(4);
        assertThat(counts(handshakes.get("failuresByReason")))
                .isEqualTo(counted(Map.entry(UNTRUSTED_HERE, 2L), Map.entry(ALERT_RECEIVED, 2L)));

        Map<String, JsonNode> relays = new TreeMap<>();
        report.get("relays").forEach(r -> relays.put(r.get("name").asString(), r));
        assertThat(relays).containsOnlyKeys(ids.keySet());

        JsonNode exit = relays.get("exit");
        assertThat(exit.get("id").asString()).isEqualTo(ids.get("exit"));
        assertThat(exit.get("state").asString()).isEqualTo("LISTENING");
        assertThat(exit.get("ingressDepth").asInt()).isEqualTo(2);
        assertThat(exit.get("egressDepth").asInt()).isEqualTo(0);
        assertThat(exit.get("activeTunnels").asInt()).isEqualTo(1);
        assertDepth(exit, "ingress", 2, 2);
        assertDepth(exit, "egress", 0, 0);
        JsonNode exitFailures = exit.get("handshakeFailures");
        assertThat(exitFailures.get("total").asLong()).isEqualTo(2);
        assertThat(counts(exitFailures.get("byLayer"))).isEqualTo(Map.of("ingress/outer", 1L, "ingress/inner", 1L));
        assertThat(counts(exitFailures.get("byReason"))).isEqualTo(Map.of(ALERT_RECEIVED, 2L));
        assertLastFailure(exit, "ingress", "inner", ALERT_RECEIVED, "127\\.0\\.0\\.1:\\d+");

        JsonNode wrongOuter = relays.get("entry-wrong-ca-outer");
        assertThat(wrongOuter.get("activeTunnels").asInt()).isZero();
        assertThat(wrongOuter.get("liveDepth").get("egress").get("min").isNull())
                .as("no live depth without tunnels")
                .isTrue();
        assertThat(counts(wrongOuter.get("handshakeFailures").get("byLayer"))).isEqualTo(Map.of("egress/outer", 1L));
        assertLastFailure(wrongOuter, "egress", "outer", UNTRUSTED_HERE, "127\\.0\\.0\\.1:" + port("exit"));

        JsonNode wrongInner = relays.get("entry-wrong-ca-inner");
        assertThat(counts(wrongInner.get("handshakeFailures").get("byLayer"))).isEqualTo(Map.of("egress/inner", 1L));
        assertThat(counts(wrongInner.get("handshakeFailures").get("byReason"))).isEqualTo(Map.of(UNTRUSTED_HERE, 1L));
        assertLastFailure(wrongInner, "egress", "inner", UNTRUSTED_HERE, "127\\.0\\.0\\.1:" + port("exit"));

        JsonNode entry = relays.get("entry");
        assertThat(entry.get("ingressDepth").asInt()).isZero();
        assertThat(entry.get("egressDepth").asInt()).isEqualTo(2);
        assertDepth(entry, "ingress", 0, 0);
        assertDepth(entry, "egress", 2, 2);
        assertThat(entry.get("handshakeFailures").get("total").asLong()).isZero();
        assertThat(entry.get("lastFailure").isNull()).isTrue();
        assertThat(entry.get("maxTunnels").asInt()).isEqualTo(1);
        assertThat(entry.get("rejectedTunnels").asLong()).isEqualTo(1);
    }

    @Test
    void actuatorOnionForOneRelayByNameOrIdAndNotFoundForAnUnknownOne() {
        JsonNode byName = management.get("/actuator/onion/entry-wrong-ca-inner").json();
        assertThat(byName.get("id").asString()).isEqualTo(ids.get("entry-wrong-ca-inner"));
        assertThat(byName.get("name").asString()).isEqualTo("entry-wrong-ca-inner");
        assertLastFailure(byName, "egress", "inner", UNTRUSTED_HERE, "127\\.0\\.0\\.1:" + port("exit"));
        JsonNode byId = management.get("/actuator/onion/" + ids.get("exit")).json();
        assertThat(byId.get("name").asString()).isEqualTo("exit");
        assertThat(byId.get("handshakeFailures").get("total").asLong()).isEqualTo(2);
        assertThat(management.get("/actuator/onion/no-such-relay").status()).isEqualTo(404);
    }

    @Test
    void healthIsUpWithTheOnionComponentAndInfoShowsBuildAndGit() {
        Response health = management.get("/actuator/health");
        assertThat(health.status()).isEqualTo(200);
        assertThat(health.json().get("components").get("onion").get("status").asString())
                .isEqualTo("UP");
        assertThat(management.get("/actuator/health/readiness").status()).isEqualTo(200);
        assertThat(management.get("/actuator/health/liveness").status()).isEqualTo(200);

        JsonNode info = management.get("/actuator/info").json();
        JsonNode build = info.get("build");
        assertThat(build).as("info: %s", info).isNotNull();
        assertThat(build.get("artifact").asString()).isEqualTo("onion-relay");
        assertThat(build.get("version").asString()).isNotBlank();
        assertThat(build.get("time").asString()).isNotBlank();
        JsonNode commit = info.path("git").path("commit");
        if (insideGitWorkTree()) {
            assertThat(commit.path("id").asString())
                    .as("git commit in %s", info)
                    .isNotBlank();
        } else {
            // Built from a tree without .git: the build still works, there is just no commit to show.
            assertThat(commit.path("id").isMissingNode() || commit.path("id").isNull())
                    .as("git commit in %s", info)
                    .isTrue();
        }
    }

    // --- helpers ------------------------------------------------------------------------------------------------

    private static boolean insideGitWorkTree() {
        for (Path dir = Path.of("").toAbsolutePath(); dir != null; dir = dir.getParent()) {
            if (Files.exists(dir.resolve(".git"))) {
                return true;
            }
        }
        return false;
    }

    private static Exposition scrape() {
        Response scrape = management.get("/actuator/prometheus");
        assertThat(scrape.status()).isEqualTo(200);
        return Exposition.parse(scrape.body());
    }

    private static void assertDepth(JsonNode relay, String side, int min, int max) {
        JsonNode depth = relay.get("liveDepth").get(side);
        assertThat(depth.get("min").asInt())
                .as("%s live %s min", relay.get("name"), side)
                .isEqualTo(min);
        assertThat(depth.get("max").asInt())
                .as("%s live %s max", relay.get("name"), side)
                .isEqualTo(max);
    }

    private static void assertLastFailure(JsonNode relay, String side, String layer, String reason, String peer) {
        JsonNode last = relay.get("lastFailure");
        assertThat(last.get("side").asString()).isEqualTo(side);
        assertThat(last.get("layer").asString()).isEqualTo(layer);
        assertThat(last.get("reason").asString()).isEqualTo(reason);
        assertThat(last.get("peer").asString()).matches(peer);
        assertThat(Instant.parse(last.get("at").asString())).isBefore(Instant.now());
    }

    private static Map<String, Long> counts(JsonNode object) {
        Map<String, Long> counts = new TreeMap<>();
        object.properties().forEach(e -> counts.put(e.getKey(), e.getValue().asLong()));
        return counts;
    }

    private static Map<String, String> labels(String... namesAndValues) {
        Map<String, String> labels = new TreeMap<>();
        for (int i = 0; i < namesAndValues.length; i += 2) {
            labels.put(namesAndValues[i], namesAndValues[i + 1]);
        }
        return labels;
    }

    private static int port(String relay) {
        return api.get("/relays/" + relay).json().get("listen").get("port").asInt();
    }

    private static JsonNode relayReport(String relay) {
        return management.get("/actuator/onion/" + relay).json();
    }

    private static List<Map<String, String>> egress(String outerTrust, String innerTrust) {
        return List.of(
                Map.of("name", "outer", "trust", outerTrust, "serverName", "localhost"),
                Map.of("name", "inner", "trust", innerTrust, "serverName", "localhost"));
    }

    private static void create(String path, Object body) {
        Response response = api.post(path, body);
        assertThat(response.status()).as(response.toString()).isEqualTo(201);
    }

    /** Creates a relay on an ephemeral loopback port; returns that port. */
    private static int relay(String name, int targetPort, List<?> ingress, List<?> egress, Map<String, ?> options) {
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("name", name);
        body.put("listen", Map.of("host", "127.0.0.1", "port", 0));
        body.put("target", Map.of("host", "127.0.0.1", "port", targetPort));
        body.put("ingress", ingress);
        body.put("egress", egress);
        body.put("options", options);
        Response response = api.post("/relays", body);
        assertThat(response.status()).as(response.toString()).isEqualTo(201);
        ids.put(name, response.json().get("id").asString());
        return response.json().get("listen").get("port").asInt();
    }

    /** Connects, sends a line and reads until the relay closes the connection; what came back. */
    private static byte[] isDisconnected(int port) throws IOException {
        try (Socket socket = new Socket(InetAddress.getLoopbackAddress(), port)) {
            socket.setSoTimeout((int) PATIENCE.toMillis());
            try {
                socket.getOutputStream().write(HELLO);
            } catch (SocketException alreadyClosed) {
                // The relay may close before our bytes are written; what counts is that it closes.
            }
            ByteArrayOutputStream received = new ByteArrayOutputStream();
            InputStream in = socket.getInputStream();
            byte[] buffer = new byte[4096];
            try {
                int n;
                while ((n = in.read(buffer)) > 0) {
                    received.write(buffer, 0, n);
                }
            } catch (SocketException reset) {
                // A reset is a close too.
            }
            return received.toByteArray();
        }
    }
}
