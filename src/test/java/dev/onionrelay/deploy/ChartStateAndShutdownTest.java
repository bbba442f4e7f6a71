package dev.onionrelay.deploy;

import static dev.onionrelay.deploy.Chart.get;
import static dev.onionrelay.deploy.Chart.list;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.marcnuri.helm.LintResult;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 25, rendered by real Helm: the default Deployment keeps its state directory (relays and credentials created
 * over the API) on a PersistentVolumeClaim, so that they outlive a pod restart, and replaces its pod with Recreate (one
 * ReadWriteOnce volume); an emptyDir only when asked for or when several pods run. The pod's grace period fits the
 * drain of its tunnels, which the chart passes to the service.
 */
class ChartStateAndShutdownTest {

    @TempDir
    Path work;

    @Test
    void theDefaultDeploymentKeepsItsStateOnAClaimOfItsOwnAndLintsStrict() {
        Chart.Rendered chart = Chart.render();
        String stateDir = (String) get(chart.applicationConfig(), "onion.state-dir");

        Map<String, Object> claim = chart.one("PersistentVolumeClaim");
        assertThat(get(claim, "metadata.name")).isEqualTo("edge-onion-relay-data");
        assertThat(get(claim, "spec.resources.requests.storage")).isEqualTo("1Gi");
        assertThat(get(claim, "spec.accessModes")).isEqualTo(java.util.List.of("ReadWriteOnce"));
        assertThat(get(dataVolume(chart), "persistentVolumeClaim.claimName")).isEqualTo("edge-onion-relay-data");
        assertThat(get(dataVolume(chart), "emptyDir")).isNull();
        assertThat(list(chart.container().get("volumeMounts")))
                .as("the claim holds %s", stateDir)
                .anySatisfy(mount -> {
                    assertThat(get(mount, "name")).isEqualTo("data");
                    assertThat(get(mount, "mountPath")).isEqualTo(stateDir);
                });
        assertThat(get(chart.workload(), "spec.strategy.type")).isEqualTo("Recreate");
        assertThat(Chart.notes()).contains("live on the claim edge-onion-relay-data: they come back after a pod");

        LintResult lint = Chart.lint();
        assertThat(lint.isFailed()).as("%s", lint.getMessages()).isFalse();
        assertThat(lint.getMessages()).noneMatch(m -> m.contains("[WARNING]") || m.contains("[ERROR]"));
    }

    @Test
    void anExistingClaimIsMountedAndNoneIsCreated() {
        Chart.Rendered chart = render("persistence: {existingClaim: onion-state}\n");
        assertThat(chart.kinds()).doesNotContain("PersistentVolumeClaim");
        assertThat(get(dataVolume(chart), "persistentVolumeClaim.claimName")).isEqualTo("onion-state");
    }

    @Test
    void persistenceOffIsAnEmptyDirAndARollingUpdate() {
        Chart.Rendered chart = render("persistence: {enabled: false}\n");
        assertThat(chart.kinds()).doesNotContain("PersistentVolumeClaim");
        assertThat(get(dataVolume(chart), "emptyDir.sizeLimit")).isEqualTo("256Mi");
        assertThat(get(chart.workload(), "spec.strategy")).isNull();
        assertThat(Chart.notes(work.resolve("values.yaml")))
                .contains("created over the API are gone when the pod restarts");
    }

    @Test
    void severalPodsOfADeploymentKeepAnEmptyDirEach() {
        Chart.Rendered chart = render("replicaCount: 3\napi: {readOnly: true}\n");
        assertThat(chart.kinds()).doesNotContain("PersistentVolumeClaim");
        assertThat(get(dataVolume(chart), "emptyDir")).isNotNull();
    }

    @Test
    void theGracePeriodFitsTheDrainThatTheServiceIsGiven() {
        Chart.Rendered defaults = Chart.render();
        assertThat(get(defaults.applicationConfig(), "onion.shutdown.drain-timeout"))
                .isEqualTo("30s");
        assertThat((Integer) get(defaults.podSpec(), "terminationGracePeriodSeconds"))
                .isGreaterThanOrEqualTo(30 + 10);

        Chart.Rendered longer = render("shutdown: {drainTimeoutSeconds: 120}\nterminationGracePeriodSeconds: 135\n");
        assertThat(get(longer.applicationConfig(), "onion.shutdown.drain-timeout"))
                .isEqualTo("120s");
        assertThat(get(longer.podSpec(), "terminationGracePeriodSeconds")).isEqualTo(135);
    }

    @Test
    void aGracePeriodShorterThanTheDrainIsRefused() {
        assertThatThrownBy(() -> render("shutdown: {drainTimeoutSeconds: 120}\n"))
                .hasMessageContaining("terminationGracePeriodSeconds 45 does not fit shutdown.drainTimeoutSeconds 120")
                .hasMessageContaining("at least 130");
    }

    private Chart.Rendered render(String values) {
        Path file = work.resolve("values.yaml");
        Chart.write(file, values);
        return Chart.render(file);
    }

    private static Object dataVolume(Chart.Rendered chart) {
        return list(get(chart.podSpec(), "volumes")).stream()
                .filter(volume -> "data".equals(get(volume, "name")))
                .findFirst()
                .orElseThrow(() -> new AssertionError("no data volume"));
    }
}
