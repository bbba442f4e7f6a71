package dev.onionrelay.observe;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.onionrelay.support.Fleet;
import dev.onionrelay.support.PgCluster;
import dev.onionrelay.support.Scenario;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A real Prometheus scrapes an instance of a fleet through a database outage: {@code onion_store_up} goes 1, 0, 1 and
 * {@code onion_store_sync_age_seconds} grows while the store is away and drops once it is read again; the shipped
 * store alert rules load and evaluate against the real series.
 *
 * <p>The outage lasts until the sync age, as Prometheus scrapes it, has grown {@link #GROWTH} past its value when the
 * store was first seen down (about ten seconds in all): the instance retries the store every second while it is away,
 * so a longer outage only repeats the same failed read, and a sync age that does not grow (or restarts at every failed
 * read) never gets there. It was a fixed 30 s.
 */
@Scenario
class StoreMetricsPrometheusTest {

    /** How far the sync age must grow during the outage: several scrapes and store retries (1 s each). */
    static final double GROWTH = 8;

    @TempDir
    Path dir;

    @Test
    void storeUpGoesOneZeroOneAndSyncAgeGrowsThroughAnOutage() throws Exception {
        try (PgCluster cluster = PgCluster.create();
                Fleet fleet = new Fleet(cluster, dir, "metrics", "--onion.store.resync=1s")) {
            fleet.start("a");
            try (PrometheusTools.Server prometheus = new PrometheusTools.Server(
                    fleet.instance("a").managementPort(),
                    List.of(Path.of("deploy/prometheus/onion-relay.rules.yml")))) {
                await().atMost(Duration.ofSeconds(30)).until(() -> value(prometheus, "onion_store_up") == 1.0);
                assertThat(prometheus.ruleHealth())
                        .containsEntry("OnionStoreDown", "ok")
                        .containsEntry("OnionStoreSyncStale", "ok");

                cluster.stop();
                try {
                    await().atMost(Duration.ofSeconds(20)).until(() -> value(prometheus, "onion_store_up") == 0.0);
                    double ageEarly = value(prometheus, "onion_store_sync_age_seconds");
                    // Growth is bounded by the time that passes: GROWTH seconds need at least that long.
                    await().atMost(Duration.ofSeconds(30))
                            .pollInterval(Duration.ofMillis(500))
                            .until(() -> value(prometheus, "onion_store_sync_age_seconds") >= ageEarly + GROWTH);
                    double ageLate = value(prometheus, "onion_store_sync_age_seconds");
                    assertThat(ageLate)
                            .as("the sync age grows through the outage (%s s, then %s s)", ageEarly, ageLate)
                            .isGreaterThanOrEqualTo(ageEarly + GROWTH);
                    assertThat(value(prometheus, "onion_store_up")).isEqualTo(0.0);
                } finally {
                    cluster.start();
                }
                await().atMost(Duration.ofSeconds(30)).until(() -> value(prometheus, "onion_store_up") == 1.0);
                await().atMost(Duration.ofSeconds(10))
                        .until(() -> value(prometheus, "onion_store_sync_age_seconds") < 5);
            }
        }
    }

    /** The one series' latest value as Prometheus has it; NaN before it has one. */
    private static double value(PrometheusTools.Server prometheus, String query) {
        Map<Map<String, String>, Double> result = prometheus.query(query);
        return result.isEmpty() ? Double.NaN : result.values().iterator().next();
    }
}
