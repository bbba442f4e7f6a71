package dev.onionrelay.deploy;

import static dev.onionrelay.deploy.Chart.get;
import static dev.onionrelay.deploy.Chart.list;
import static dev.onionrelay.deploy.Chart.map;
import static org.assertj.core.api.Assertions.assertThat;

import com.marcnuri.helm.LintResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The Helm chart, linted and rendered by real Helm with its default values and with every optional feature on
 * ({@code ci/all-features-values.yaml}), and the rendered manifests checked against the application configuration the
 * chart renders next to them: what the pod listens on, probes, security context, mounts.
 */
class HelmChartTest {

    private static final Chart.Rendered DEFAULTS = Chart.render();
    private static final Chart.Rendered ALL_FEATURES = Chart.render(Chart.ALL_FEATURES);

    static Stream<Arguments> renders() {
        return Stream.of(Arguments.of("default values", DEFAULTS), Arguments.of("every feature on", ALL_FEATURES));
    }

    @Test
    void lintsStrictWithDefaultValues() {
        LintResult lint = Chart.lint();
        assertThat(lint.isFailed()).as("%s", lint.getMessages()).isFalse();
        assertThat(lint.getMessages()).noneMatch(m -> m.contains("[WARNING]") || m.contains("[ERROR]"));
    }

    @Test
    void lintsStrictWithEveryOptionalFeatureOn(@TempDir Path work) {
        LintResult lint = Chart.lintWith(Chart.ALL_FEATURES, work);
        assertThat(lint.isFailed()).as("%s", lint.getMessages()).isFalse();
        assertThat(lint.getMessages()).noneMatch(m -> m.contains("[WARNING]") || m.contains("[ERROR]"));
    }

    @Test
    void defaultValuesRenderADeploymentAndNoOptionalResources() {
        assertThat(DEFAULTS.kinds())
                .containsExactlyInAnyOrder(
                        "ServiceAccount",
                        "Secret",
                        "ConfigMap",
                        "Service",
                        "Service",
                        "Service",
                        "Deployment",
                        "PersistentVolumeClaim");
    }

    @Test
    void everyOptionalFeatureRendersItsResource() {
        assertThat(ALL_FEATURES.kinds())
                .contains(
                        "StatefulSet",
                        "ServiceMonitor",
                        "PrometheusRule",
                        "PodDisruptionBudget",
                        "NetworkPolicy",
                        "HorizontalPodAutoscaler")
                .doesNotContain("Deployment");
        Map<String, Object> statefulSet = ALL_FEATURES.workload();
        assertThat(get(statefulSet, "spec.serviceName")).isEqualTo("edge-onion-relay-headless");
        assertThat(get(statefulSet, "spec.volumeClaimTemplates.0.metadata.name"))
                .isEqualTo("data");
        assertThat(get(statefulSet, "spec.volumeClaimTemplates.0.spec.resources.requests.storage"))
                .isEqualTo("2Gi");
        assertThat(get(statefulSet, "spec.replicas"))
                .as("the HPA owns replicas")
                .isNull();
        assertThat(get(ALL_FEATURES.one("HorizontalPodAutoscaler"), "spec.scaleTargetRef.kind"))
                .isEqualTo("StatefulSet");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("renders")
    void containerAndServicePortsMatchTheApplicationConfiguration(String values, Chart.Rendered chart) {
        Map<String, Object> config = chart.applicationConfig();
        Map<String, Integer> ports = chart.containerPorts();
        assertThat(ports.get("api")).isEqualTo(get(config, "server.port"));
        assertThat(ports.get("management")).isEqualTo(get(config, "management.server.port"));
        List<Integer> relayPorts = new ArrayList<>();
        for (Object relay : list(get(config, "onion.relays"))) {
            int port = (Integer) get(relay, "listen.port");
            assertThat(ports).as("declared relay %s", get(relay, "name")).containsEntry("relay-" + port, port);
            relayPorts.add(port);
        }
        List<Integer> pool = ports.entrySet().stream()
                .filter(e -> e.getKey().startsWith("pool-"))
                .map(Map.Entry::getValue)
                .toList();
        assertThat(pool).isNotEmpty();
        assertThat(relayPorts).noneMatch(pool::contains);

        // Relays may listen only where a Service can reach them: the declared ports and the pool.
        List<Integer> listenable = new ArrayList<>();
        for (Object entry : list(get(config, "onion.policy.listen-ports"))) {
            String[] range = entry.toString().split("-");
            int low = Integer.parseInt(range[0]);
            int high = Integer.parseInt(range[range.length - 1]);
            for (int port = low; port <= high; port++) {
                listenable.add(port);
            }
        }
        List<Integer> served = new ArrayList<>(relayPorts);
        served.addAll(pool);
        assertThat(listenable).containsExactlyInAnyOrderElementsOf(served);

        // Every Service port reaches a container port by name, and relays and the pool are all reachable.
        Map<String, List<String>> targetsByService = new HashMap<>();
        for (Map<String, Object> service : chart.all("Service")) {
            for (Object port : list(get(service, "spec.ports"))) {
                String target = (String) get(port, "targetPort");
                assertThat(ports)
                        .as("%s port %s", get(service, "metadata.name"), target)
                        .containsKey(target);
                targetsByService
                        .computeIfAbsent((String) get(service, "metadata.name"), k -> new ArrayList<>())
                        .add(target);
            }
        }
        assertThat(targetsByService.get("edge-onion-relay")).containsExactly("api");
        assertThat(targetsByService.get("edge-onion-relay-management")).containsExactly("management");
        assertThat(targetsByService.get("edge-onion-relay-relays"))
                .containsExactlyInAnyOrderElementsOf(ports.keySet().stream()
                        .filter(name -> name.startsWith("relay-") || name.startsWith("pool-"))
                        .toList());
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("renders")
    void opensTheManagementPortToThePodNetworkOnPurpose(String values, Chart.Rendered chart) {
        // The jar keeps the management port on loopback; probes and Prometheus reach a pod from outside.
        assertThat(get(chart.applicationConfig(), "management.server.address")).isEqualTo("0.0.0.0");
        Map<String, Object> env = new HashMap<>();
        for (Object variable : list(chart.container().get("env"))) {
            env.put((String) get(variable, "name"), get(variable, "value"));
        }
        assertThat(env)
                .as("the image's MANAGEMENT_SERVER_ADDRESS outranks the mounted file, so the chart repeats it")
                .containsEntry("MANAGEMENT_SERVER_ADDRESS", "0.0.0.0");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("renders")
    void probesAskTheActuatorHealthGroupsOnTheManagementPort(String values, Chart.Rendered chart) {
        Map<String, Object> container = chart.container();
        int management = (Integer) get(chart.applicationConfig(), "management.server.port");
        for (String probe : List.of("startupProbe", "livenessProbe", "readinessProbe")) {
            String port = (String) get(container, probe + ".httpGet.port");
            assertThat(chart.containerPorts().get(port)).as(probe).isEqualTo(management);
        }
        assertThat(get(container, "startupProbe.httpGet.path")).isEqualTo("/actuator/health/liveness");
        assertThat(get(container, "livenessProbe.httpGet.path")).isEqualTo("/actuator/health/liveness");
        assertThat(get(container, "readinessProbe.httpGet.path")).isEqualTo("/actuator/health/readiness");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("renders")
    void podRunsAsTheImageUserWithAReadOnlyRootFilesystemAndWritableStateAndTmp(String values, Chart.Rendered chart) {
        Map<String, Object> pod = chart.podSpec();
        Map<String, Object> container = chart.container();
        assertThat(get(pod, "securityContext.runAsNonRoot")).isEqualTo(true);
        assertThat(get(container, "securityContext.runAsNonRoot")).isEqualTo(true);
        assertThat(get(container, "securityContext.readOnlyRootFilesystem")).isEqualTo(true);
        assertThat(get(container, "securityContext.allowPrivilegeEscalation")).isEqualTo(false);
        assertThat(list(get(container, "securityContext.capabilities.drop"))).contains("ALL");
        assertThat(list(get(container, "securityContext.capabilities.add"))).isEmpty();
        assertThat(get(pod, "automountServiceAccountToken")).isEqualTo(false);

        // The image's USER: the chart must not run it as someone who cannot read its files.
        String[] user = Dockerfile.read().runtime().last("USER").arguments().split(":");
        assertThat(get(pod, "securityContext.runAsUser")).isEqualTo(Integer.parseInt(user[0]));
        assertThat(get(pod, "securityContext.runAsGroup")).isEqualTo(Integer.parseInt(user[1]));
        assertThat(get(pod, "securityContext.fsGroup")).isEqualTo(Integer.parseInt(user[1]));

        // Everything the service writes is a mounted volume: the state directory and java.io.tmpdir.
        String stateDir = (String) get(chart.applicationConfig(), "onion.state-dir");
        assertThat(writableMount(chart, stateDir)).as("state dir %s", stateDir).isTrue();
        assertThat(writableMount(chart, "/tmp")).isTrue();
        assertThat((String) get(container, "env.0.value")).contains("-Djava.io.tmpdir=/tmp");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("renders")
    void configurationIsMountedWhereSpringBootReadsIt(String values, Chart.Rendered chart) {
        Map<String, Object> mount = mountOf(chart, "config");
        assertThat(mount.get("mountPath"))
                .as("./config under the image's working directory")
                .isEqualTo(workingDirectory() + "/config");
        assertThat(get(volume(chart, "config"), "configMap.name"))
                .isEqualTo(get(chart.one("ConfigMap"), "metadata.name"));
        assertThat(get(chart.workload(), "spec.template.metadata.annotations.checksum/config"))
                .as("configuration changes roll the pods")
                .isNotNull();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("renders")
    void secretsAreMountedWhereTheConfigurationExpectsThem(String values, Chart.Rendered chart) {
        Map<String, Object> config = chart.applicationConfig();
        List<String> files = new ArrayList<>();
        for (Object token : list(get(config, "onion.api.tokens"))) {
            files.add((String) get(token, "file"));
        }
        Object credentials = get(config, "onion.credentials");
        if (credentials != null) {
            for (Object credential : map(credentials).values()) {
                files.add((String) get(credential, "certificate-file"));
                if (get(credential, "private-key-file") != null) {
                    files.add((String) get(credential, "private-key-file"));
                }
            }
        }
        assertThat(files).isNotEmpty();
        for (String file : files) {
            Path path = Path.of(file);
            Map<String, Object> mount = mountAt(chart, path.getParent().toString());
            assertThat(mount.get("subPath"))
                    .as("%s: a subPath mount never sees Secret rotation", file)
                    .isNull();
            Map<String, Object> secretVolume = map(get(volume(chart, (String) mount.get("name")), "secret"));
            String secretName = (String) secretVolume.get("secretName");
            String key = path.getFileName().toString();
            List<Map<String, Object>> rendered = chart.all("Secret").stream()
                    .filter(s -> secretName.equals(get(s, "metadata.name")))
                    .toList();
            if (!rendered.isEmpty()) {
                assertThat(map(get(rendered.get(0), "data"))).as(file).containsKey(key);
            } else {
                assertThat(existingSecrets(chart)).as(file).contains(secretName);
            }
        }
    }

    @Test
    void inlineCredentialsBecomeSecretsWithTheirPem() {
        Map<String, Object> secret = ALL_FEATURES.named("Secret", "edge-onion-relay-credential-inline");
        String certificate = new String(Base64.getDecoder().decode((String) get(secret, "data.tls.crt")));
        assertThat(certificate).startsWith("-----BEGIN CERTIFICATE-----");
        assertThat(get(secret, "data.tls.key")).isNotNull();
    }

    @Test
    void notesTellHowToGetTheTokenAndCreateAFirstRelay() {
        String notes = Chart.notes();
        String tokenSecret = (String) get(DEFAULTS.one("Secret"), "metadata.name");
        assertThat(notes)
                .contains("kubectl get secret --namespace relays " + tokenSecret)
                .contains("jsonpath='{.data.admin}' | base64 -d")
                .contains("svc/edge-onion-relay 8080:8080")
                .contains("/credentials -d '{\"name\":\"my-ca\"")
                .contains("/relays -d '{\"name\":\"my-exit\",\"listen\":{\"host\":\"0.0.0.0\",\"port\":7000}");
        // The first relay's port is one the relays Service exposes.
        assertThat(DEFAULTS.containerPorts()).containsEntry("pool-7000", 7000);

        String declared = Chart.notes(Chart.ALL_FEATURES);
        assertThat(declared)
                .contains("edge-onion-relay-relays:7443 -> backend.apps.svc.cluster.local:8080")
                .contains(
                        "Fleet: every pod shares the state in jdbc:postgresql://postgres.db.svc.cluster.local:5432/onion")
                .contains("/fleet/members");
    }

    @Test
    void serviceMonitorScrapesPrometheusOnTheManagementPort() {
        Map<String, Object> monitor = ALL_FEATURES.one("ServiceMonitor");
        assertThat(get(monitor, "spec.endpoints.0.path")).isEqualTo("/actuator/prometheus");
        String port = (String) get(monitor, "spec.endpoints.0.port");
        Map<String, Object> selector = map(get(monitor, "spec.selector.matchLabels"));
        List<Map<String, Object>> selected = ALL_FEATURES.all("Service").stream()
                .filter(s -> map(get(s, "metadata.labels")).entrySet().containsAll(selector.entrySet()))
                .toList();
        assertThat(selected).hasSize(1);
        Map<String, Object> servicePort = list(get(selected.get(0), "spec.ports")).stream()
                .map(Chart::map)
                .filter(p -> port.equals(p.get("name")))
                .findFirst()
                .orElseThrow();
        assertThat(ALL_FEATURES.containerPorts().get((String) servicePort.get("targetPort")))
                .isEqualTo(get(ALL_FEATURES.applicationConfig(), "management.server.port"));
    }

    @Test
    void prometheusRuleCarriesTheRepositoryAlertRules() {
        Path repositoryRules = Path.of("deploy", "prometheus", "onion-relay.rules.yml");
        Path chartRules = Chart.DIRECTORY.resolve("files").resolve("onion-relay.rules.yml");
        if (Files.exists(repositoryRules)) {
            assertThat(Chart.read(chartRules))
                    .as("the chart's copy of %s (cp it into %s)", repositoryRules, chartRules)
                    .isEqualTo(Chart.read(repositoryRules));
        }
        Object groups = get(ALL_FEATURES.one("PrometheusRule"), "spec.groups");
        assertThat(list(groups)).isNotEmpty().isEqualTo(get(Chart.parse(Chart.read(chartRules)), "groups"));
    }

    @Test
    void networkPolicyLetsInEveryPortThePodServes() {
        Set<String> allowed = new HashSet<>();
        for (Object rule : list(get(ALL_FEATURES.one("NetworkPolicy"), "spec.ingress"))) {
            for (Object port : list(get(rule, "ports"))) {
                allowed.add((String) get(port, "port"));
            }
        }
        assertThat(allowed)
                .containsExactlyInAnyOrderElementsOf(
                        ALL_FEATURES.containerPorts().keySet());
    }

    private static boolean writableMount(Chart.Rendered chart, String path) {
        Map<String, Object> mount = mountAt(chart, path);
        if (Boolean.TRUE.equals(mount.get("readOnly"))) {
            return false;
        }
        String name = (String) mount.get("name");
        boolean claimTemplate = list(get(chart.workload(), "spec.volumeClaimTemplates")).stream()
                .anyMatch(claim -> name.equals(get(claim, "metadata.name")));
        Object volume = claimTemplate ? null : volume(chart, name);
        return claimTemplate
                || get(volume, "emptyDir") != null
                || get(volume, "persistentVolumeClaim.claimName") != null;
    }

    private static Map<String, Object> mountAt(Chart.Rendered chart, String path) {
        return list(chart.container().get("volumeMounts")).stream()
                .map(Chart::map)
                .filter(m -> path.equals(m.get("mountPath")))
                .findFirst()
                .orElseThrow(() -> new AssertionError("nothing mounted at " + path));
    }

    private static Map<String, Object> mountOf(Chart.Rendered chart, String volume) {
        return list(chart.container().get("volumeMounts")).stream()
                .map(Chart::map)
                .filter(m -> volume.equals(m.get("name")))
                .findFirst()
                .orElseThrow(() -> new AssertionError("volume " + volume + " is not mounted"));
    }

    private static Map<String, Object> volume(Chart.Rendered chart, String name) {
        return list(chart.podSpec().get("volumes")).stream()
                .map(Chart::map)
                .filter(v -> name.equals(v.get("name")))
                .findFirst()
                .orElseThrow(() -> new AssertionError("no volume " + name));
    }

    /** Secrets the all-features values name as existing (not rendered by the chart). */
    private static List<String> existingSecrets(Chart.Rendered chart) {
        Map<String, Object> values = map(Chart.parse(Chart.read(Chart.ALL_FEATURES)));
        List<String> names = new ArrayList<>();
        for (Object credential : map(values.get("credentials")).values()) {
            if (get(credential, "existingSecret") != null) {
                names.add((String) get(credential, "existingSecret"));
            }
        }
        return names;
    }

    private static String workingDirectory() {
        return Dockerfile.read().runtime().last("WORKDIR").arguments().trim();
    }
}
