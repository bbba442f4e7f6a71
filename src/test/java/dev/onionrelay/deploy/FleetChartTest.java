package dev.onionrelay.deploy;

import static dev.onionrelay.deploy.Chart.get;
import static dev.onionrelay.deploy.Chart.list;
import static dev.onionrelay.deploy.Chart.map;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The chart and the fleet: several pods need one state (the PostgreSQL store) or a read-only API, never a writable
 * file store each; a fleet's pods get the database, the key-encryption key and their own member identity, and a
 * restricted network lets them reach the database and each other.
 */
class FleetChartTest {

    private static final String THREE_REPLICAS_ON_POSTGRES = """
            replicaCount: 3
            store:
              type: postgres
              postgres:
                url: jdbc:postgresql://pg.db.svc:5432/onion
                username: relay
                existingSecret: onion-store
                networkPolicy:
                  to:
                    - ipBlock: {cidr: 10.20.0.0/16}
            networkPolicy:
              enabled: true
              api:
                from:
                  - namespaceSelector: {matchLabels: {team: edge}}
              egress:
                - to:
                    - ipBlock: {cidr: 10.30.0.0/16}
            """;

    @TempDir
    Path work;

    static Stream<Arguments> refused() {
        return Stream.of(
                Arguments.of(
                        "two replicas on the file store", "replicaCount: 2\n", "replicaCount 2 with store.type file"),
                Arguments.of(
                        "autoscaling on the file store",
                        "autoscaling: {enabled: true}\n",
                        "autoscaling with store.type file"),
                Arguments.of(
                        "the shared store without its database",
                        "store: {type: postgres, postgres: {existingSecret: s}}\n",
                        "store.type postgres needs store.postgres.url"),
                Arguments.of(
                        "the shared store without its Secret",
                        "store: {type: postgres, postgres: {url: 'jdbc:postgresql://db:5432/onion'}}\n",
                        "store.type postgres needs store.postgres.existingSecret"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("refused")
    void refusesValuesThatWouldRunAFleetWithoutOneState(String what, String values, String message) {
        Path file = work.resolve("values.yaml");
        Chart.write(file, values);
        assertThatThrownBy(() -> Chart.render(file)).hasMessageContaining(message);
    }

    @Test
    void theRefusalOfSeveralPodsOnTheFileStoreNamesBothWaysOut() {
        Path file = work.resolve("values.yaml");
        Chart.write(file, "replicaCount: 3\n");
        assertThatThrownBy(() -> Chart.render(file))
                .hasMessageContaining("store.type: postgres")
                .hasMessageContaining("api.readOnly: true");
    }

    @Test
    void severalPodsOnTheFileStoreRenderWithAReadOnlyApi() {
        Path file = work.resolve("values.yaml");
        Chart.write(file, """
                replicaCount: 3
                api: {readOnly: true}
                relays:
                  - {name: exit, listen: {port: 7443}, target: {host: 127.0.0.1, port: 8080}}
                """);
        Chart.Rendered chart = Chart.render(file);
        assertThat(get(chart.workload(), "spec.replicas")).isEqualTo(3);
        assertThat(get(chart.applicationConfig(), "onion.api.read-only")).isEqualTo(true);
        assertThat(get(chart.applicationConfig(), "onion.store.type")).isEqualTo("file");
        assertThat(env(chart)).doesNotContainKey("SPRING_DATASOURCE_PASSWORD");
    }

    @Test
    void aFleetOfThreeGetsTheDatabaseTheKeyAndAMemberIdentityPerPod() {
        Path file = work.resolve("values.yaml");
        Chart.write(file, THREE_REPLICAS_ON_POSTGRES);
        Chart.Rendered chart = Chart.render(file);
        Map<String, Object> config = chart.applicationConfig();

        assertThat(get(chart.workload(), "spec.replicas")).isEqualTo(3);
        assertThat(get(config, "onion.store.type")).isEqualTo("postgres");
        assertThat(get(config, "spring.datasource.url")).isEqualTo("jdbc:postgresql://pg.db.svc:5432/onion");
        assertThat(get(config, "spring.datasource.username")).isEqualTo("relay");
        assertThat(get(config, "spring.datasource.password"))
                .as("the password never lands in the ConfigMap")
                .isNull();
        assertThat(get(config, "onion.fleet.lease")).isEqualTo("10s");

        Map<String, Map<String, Object>> env = env(chart);
        assertThat(get(env.get("SPRING_DATASOURCE_PASSWORD"), "valueFrom.secretKeyRef"))
                .isEqualTo(Map.of("name", "onion-store", "key", "password"));
        assertThat(get(env.get("POD_NAME"), "valueFrom.fieldRef.fieldPath")).isEqualTo("metadata.name");
        assertThat(get(env.get("POD_IP"), "valueFrom.fieldRef.fieldPath")).isEqualTo("status.podIP");
        assertThat(env.get("ONION_FLEET_INSTANCE_NAME").get("value")).isEqualTo("$(POD_NAME)");
        assertThat(env.get("ONION_FLEET_ADVERTISE_URL").get("value")).isEqualTo("http://$(POD_IP):8080");
        List<String> names = env.keySet().stream().toList();
        assertThat(names.indexOf("POD_IP"))
                .as("Kubernetes expands $(POD_IP) only from variables defined before")
                .isLessThan(names.indexOf("ONION_FLEET_ADVERTISE_URL"));

        // The key-encryption key is a file from the Secret, where the configuration says.
        String keyFile = (String) get(config, "onion.store.encryption-key-file");
        Path keyPath = Path.of(keyFile);
        Map<String, Object> mount = list(chart.container().get("volumeMounts")).stream()
                .map(Chart::map)
                .filter(m -> keyPath.getParent().toString().equals(m.get("mountPath")))
                .findFirst()
                .orElseThrow();
        assertThat(mount.get("readOnly")).isEqualTo(true);
        Map<String, Object> volume = list(get(chart.podSpec(), "volumes")).stream()
                .map(Chart::map)
                .filter(v -> mount.get("name").equals(v.get("name")))
                .findFirst()
                .orElseThrow();
        assertThat(get(volume, "secret.secretName")).isEqualTo("onion-store");
        assertThat(get(volume, "secret.items.0")).isEqualTo(Map.of("key", "encryption-key", "path", "encryption-key"));
        assertThat(keyPath.getFileName().toString()).isEqualTo("encryption-key");
    }

    /**
     * Acceptance 24.8: a fleet keeps its state dir (the snapshot of the store a pod needs to start while the database
     * is away) on a volume per pod by default, lints strict, and can opt out with an explicit Deployment.
     */
    @Test
    void aFleetKeepsEachPodsStateOnItsOwnPersistentVolumeAndLintsStrict() {
        Path file = work.resolve("values.yaml");
        Chart.write(file, THREE_REPLICAS_ON_POSTGRES);
        Chart.Rendered chart = Chart.render(file);
        String stateDir = (String) get(chart.applicationConfig(), "onion.state-dir");

        assertThat(chart.kinds()).contains("StatefulSet").doesNotContain("Deployment");
        Map<String, Object> claim = map(get(chart.workload(), "spec.volumeClaimTemplates.0"));
        assertThat(get(claim, "metadata.name")).isEqualTo("data");
        assertThat(get(claim, "spec.resources.requests.storage")).isEqualTo("1Gi");
        assertThat(list(chart.container().get("volumeMounts")))
                .as("the claim holds %s", stateDir)
                .anySatisfy(mount -> {
                    assertThat(get(mount, "name")).isEqualTo("data");
                    assertThat(get(mount, "mountPath")).isEqualTo(stateDir);
                });
        assertThat(list(get(chart.podSpec(), "volumes")))
                .as("no emptyDir in its place")
                .noneSatisfy(volume -> assertThat(get(volume, "name")).isEqualTo("data"));
        assertThat(get(chart.workload(), "spec.serviceName")).isEqualTo("edge-onion-relay-headless");
        assertThat(get(chart.container(), "readinessProbe.httpGet.path")).isEqualTo("/actuator/health/readiness");

        com.marcnuri.helm.LintResult lint = Chart.lintWith(file, work.resolve("lint"));
        assertThat(lint.isFailed()).as("%s", lint.getMessages()).isFalse();
        assertThat(lint.getMessages()).noneMatch(m -> m.contains("[WARNING]") || m.contains("[ERROR]"));

        Chart.write(file, THREE_REPLICAS_ON_POSTGRES + "kind: Deployment\n");
        Chart.Rendered optedOut = Chart.render(file);
        assertThat(optedOut.kinds()).contains("Deployment").doesNotContain("StatefulSet");
        assertThat(list(get(optedOut.podSpec(), "volumes")))
                .anySatisfy(volume -> assertThat(get(volume, "emptyDir")).isNotNull());
    }

    @Test
    void aRestrictedNetworkLetsAFleetReachItsDatabaseAndItsOwnMembers() {
        Path file = work.resolve("values.yaml");
        Chart.write(file, THREE_REPLICAS_ON_POSTGRES);
        Chart.Rendered chart = Chart.render(file);
        Map<String, Object> policy = chart.one("NetworkPolicy");
        Map<String, Object> selector = map(get(chart.workload(), "spec.selector.matchLabels"));

        List<Object> egress = list(get(policy, "spec.egress"));
        assertThat(egress).as("the database, from store.postgres.networkPolicy").anySatisfy(rule -> {
            assertThat(get(rule, "ports.0.port")).isEqualTo(5432);
            assertThat(get(rule, "to.0.ipBlock.cidr")).isEqualTo("10.20.0.0/16");
        });
        assertThat(egress).as("the other members' API, for forwarded calls").anySatisfy(rule -> {
            assertThat(get(rule, "ports.0.port")).isEqualTo(8080);
            assertThat(get(rule, "to.0.podSelector.matchLabels")).isEqualTo(selector);
        });
        assertThat(list(get(policy, "spec.ingress")))
                .as("the API open to the members even though api.from names others")
                .anySatisfy(rule -> {
                    assertThat(get(rule, "ports.0.port")).isEqualTo("api");
                    assertThat(get(rule, "from.0.podSelector.matchLabels")).isEqualTo(selector);
                });
    }

    @Test
    void theNotesOfAFleetShowTheMemberList() {
        Path file = work.resolve("values.yaml");
        Chart.write(file, THREE_REPLICAS_ON_POSTGRES);
        assertThat(Chart.notes(file))
                .contains("Fleet: every pod shares the state in jdbc:postgresql://pg.db.svc:5432/onion")
                .contains("/fleet/members");
    }

    @Test
    void duringAKeyRotationThePreviousKeysAreMountedFromTheSameSecretAndConfigured() {
        Path file = work.resolve("values.yaml");
        Chart.write(file, THREE_REPLICAS_ON_POSTGRES.replace("""
                    existingSecret: onion-store
                """, """
                    existingSecret: onion-store
                    encryptionKeyKey: encryption-key-new
                    previousEncryptionKeyKeys: [encryption-key]
                """));
        Chart.Rendered chart = Chart.render(file);
        Map<String, Object> config = chart.applicationConfig();

        String keyFile = (String) get(config, "onion.store.encryption-key-file");
        Path keyDir = Path.of(keyFile).getParent();
        assertThat(get(config, "onion.store.previous-encryption-key-files"))
                .isEqualTo(List.of(keyDir.resolve("previous-encryption-key-0").toString()));
        Map<String, Object> volume = list(get(chart.podSpec(), "volumes")).stream()
                .map(Chart::map)
                .filter(v -> "onion-store".equals(get(v, "secret.secretName")))
                .findFirst()
                .orElseThrow();
        assertThat(get(volume, "secret.items"))
                .isEqualTo(List.of(
                        Map.of("key", "encryption-key-new", "path", "encryption-key"),
                        Map.of("key", "encryption-key", "path", "previous-encryption-key-0")));
    }

    private static Map<String, Map<String, Object>> env(Chart.Rendered chart) {
        Map<String, Map<String, Object>> byName = new java.util.LinkedHashMap<>();
        for (Object variable : list(chart.container().get("env"))) {
            byName.put((String) get(variable, "name"), map(variable));
        }
        return byName;
    }
}
