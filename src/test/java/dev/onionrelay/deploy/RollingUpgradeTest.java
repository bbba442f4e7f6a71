package dev.onionrelay.deploy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.onionrelay.boot.StoreMigrationCommand;
import dev.onionrelay.support.ApiClient;
import dev.onionrelay.support.EchoServer;
import dev.onionrelay.support.Fleet;
import dev.onionrelay.support.LocalServers;
import dev.onionrelay.support.PgCluster;
import dev.onionrelay.support.Scenario;
import dev.onionrelay.support.SteadyStream;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import tools.jackson.databind.JsonNode;

/**
 * The rolling upgrade of DEPLOYMENT.md on a two-instance fleet: migrate the store first ({@code
 * --onion.store.migrate-only}, while both instances run with {@code onion.store.migrate=validate}), then restart the
 * instances one at a time; a tunnel streaming through the instance that stays up is untouched by the other's restart,
 * and the fleet serves the same relays afterwards.
 *
 * <p>What it does not prove: there is one jar, so the "new" instance is the same build as the "old" one and the
 * migration step finds nothing to apply. It proves the procedure's mechanics (a validating instance restarting on a
 * migrated store, tunnels on the other instance kept); that a newer schema stops an older jar at start and makes a
 * running one refuse writes is {@code FleetAdmissionTest#aSchemaNewerThanThisVersionIsAConfigurationErrorAtStartAndWhileRunning}.
 */
@Scenario
class RollingUpgradeTest {

    @TempDir
    Path dir;

    @Test
    void restartingInstancesOneAtATimeKeepsTheOtherInstancesTunnelsStreaming() throws Exception {
        try (PgCluster cluster = PgCluster.create();
                EchoServer echo = new EchoServer();
                Fleet fleet = new Fleet(cluster, dir, "rolling", "--onion.store.migrate=validate")) {
            assertThat(migrate(fleet)).as("the rollout's first step: migrate").isZero();
            fleet.start("a", "b");
            int port = LocalServers.freePort();
            ApiClient.Response created = fleet.admin("a")
                    .post(
                            "/relays",
                            Map.of(
                                    "name", "upgraded",
                                    "listen", Map.of("host", "127.0.0.1", "port", port),
                                    "target", Map.of("host", "127.0.0.1", "port", echo.port())));
            assertThat(created.status()).as(created.toString()).isEqualTo(201);
            awaitListening(fleet, "a", "b");
            List<String> relaysBefore = relays(fleet, "a");

            for (String[] step : List.of(new String[] {"a", "b"}, new String[] {"b", "a"})) {
                String restarted = step[0];
                String staying = step[1];
                try (SteadyStream stream = new SteadyStream(fleet.bindAddress(staying), port)) {
                    await().atMost(Duration.ofSeconds(10)).until(() -> stream.received() > 0);
                    assertThat(migrate(fleet))
                            .as("the new version's migrations, applied while both run")
                            .isZero();
                    fleet.instance(restarted).stop();
                    fleet.instance(restarted).start();
                    awaitListening(fleet, restarted);
                    long before = stream.received();
                    await().atMost(Duration.ofSeconds(10)).until(() -> stream.received() > before);
                    assertThat(stream.finish())
                            .as("the tunnel through %s, streaming while %s restarted, is intact", staying, restarted)
                            .isTrue();
                }
                assertThat(relays(fleet, restarted)).isEqualTo(relaysBefore);
            }
        }
    }

    private static int migrate(Fleet fleet) {
        return StoreMigrationCommand.run(new String[] {
            "--onion.store.migrate-only",
            "--spring.datasource.url=" + fleet.jdbcUrl(),
            "--spring.datasource.username=" + PgCluster.USER,
            "--spring.datasource.password=" + PgCluster.PASSWORD
        });
    }

    private static void awaitListening(Fleet fleet, String... names) {
        await().atMost(Fleet.PROPAGATION).untilAsserted(() -> {
            for (String name : names) {
                assertThat(fleet.admin(name)
                                .get("/relays/upgraded")
                                .json()
                                .get("state")
                                .asString())
                        .isEqualTo("LISTENING");
            }
        });
    }

    private static List<String> relays(Fleet fleet, String name) {
        List<String> relays = new ArrayList<>();
        for (JsonNode relay : fleet.admin(name).get("/relays").json()) {
            relays.add(relay.get("id").asString() + " " + relay.get("name").asString() + " "
                    + relay.get("listen").get("port").asInt());
        }
        return relays;
    }
}
