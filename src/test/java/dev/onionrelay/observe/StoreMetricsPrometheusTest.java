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
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A real Prometheus scrapes an instance of a fleet through a 30 s database outage: {@code onion_store_up} goes 1, 0,
 * 1 and {@code onion_store_sync_age_seconds} grows while the store is away and drops once it is read again; the
 * shipped store alert rules load and evaluate against the real series.
 */
@Scenario
class StoreMetricsPrometheusTest {

    static final Duration OUTAGE = Duration.ofSeconds(30);

    @TempDir
    Path dir;

    @Test
    void storeUpGoesOneZeroOneAndSyncAgeGrowsThroughAThirtySecondOutage() throws Exception {
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
                long stoppedAt = System.nanoTime();
                try {
                    await().atMost(Duration.ofSeconds(20)).until(() -> value(prometheus, "onion_store_up") == 0.0);
                    double ageEarly = value(prometheus, "onion_store_sync_age_seconds");
                    long left = OUTAGE.toNanos() - (System.nanoTime() - stoppedAt);
                    TimeUnit.NANOSECONDS.sleep(Math.max(0, left));
                    double ageLate = value(prometheus, "onion_store_sync_age_seconds");
                    assertThat(ageLate)
                            .as("the sync age grows through the outage (%s s, then %s s)", ageEarly, ageLate)
                            .isGreaterThan(ageEarly + 10)
                            .isGreaterThan(20);
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
