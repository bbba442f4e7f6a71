package dev.onionrelay.observe;

import static org.assertj.core.api.Assertions.assertThat;

import dev.onionrelay.support.ApiClient;
import dev.onionrelay.support.Scenario;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import tools.jackson.databind.JsonNode;

/**
 * The files under {@code deploy/prometheus/} are checked by promtool: the alert rules are valid and behave as their
 * unit tests say, and every query of the Grafana dashboard is valid PromQL. That they only use metrics the service
 * exposes is checked against a live scrape in {@link RelayChainObservabilityTest}.
 */
@Scenario
class AlertRulesAndDashboardTest {

    static final Path DIRECTORY = Path.of("deploy/prometheus");

    @Test
    void promtoolAcceptsTheAlertRules() throws Exception {
        PrometheusTools.Run check = promtool("check", "rules", DIRECTORY.resolve("onion-relay.rules.yml"));
        assertThat(check.exitCode())
                .as("promtool check rules:\n%s", check.output())
                .isZero();
        assertThat(check.output()).contains("SUCCESS: 6 rules found");
    }

    @Test
    void alertsFireAsTheirUnitTestsSay() throws Exception {
        PrometheusTools.Run test = promtool("test", "rules", DIRECTORY.resolve("onion-relay.rules.test.yml"));
        assertThat(test.exitCode())
                .as("promtool test rules:\n%s", test.output())
                .isZero();
        assertThat(test.output()).contains("SUCCESS");
    }

    @Test
    void everyDashboardQueryIsValidPromql(@TempDir Path temp) throws Exception {
        JsonNode dashboard = ApiClient.JSON.readTree(Files.readString(DIRECTORY.resolve("grafana-dashboard.json")));
        List<String> queries = new ArrayList<>();
        for (JsonNode panel : dashboard.get("panels")) {
            for (JsonNode target : panel.path("targets")) {
                queries.add(target.get("expr").asString());
            }
        }
        assertThat(queries).hasSizeGreaterThan(10);
        // Grafana's variables, replaced the way Grafana would before sending the query.
        StringBuilder rules = new StringBuilder("groups:\n  - name: dashboard\n    rules:\n");
        for (int i = 0; i < queries.size(); i++) {
            String promql = queries.get(i)
                    .replace("$__rate_interval", "1m")
                    .replace("$instance", ".*")
                    .replace("$relay", ".*");
            rules.append("      - record: dashboard:query_")
                    .append(i)
                    .append("\n        expr: '")
                    .append(promql.replace("'", "''"))
                    .append("'\n");
        }
        Path file = temp.resolve("dashboard.rules.yml");
        Files.writeString(file, rules);
        PrometheusTools.Run check = promtool("check", "rules", file);
        assertThat(check.exitCode())
                .as("promtool on the dashboard queries:\n%s\n%s", check.output(), rules)
                .isZero();
    }

    private static PrometheusTools.Run promtool(String command, String subcommand, Path file) throws Exception {
        Path promtool = PrometheusTools.require("promtool");
        return PrometheusTools.run(List.of(promtool.toString(), command, subcommand, file.toString()), "");
    }
}
