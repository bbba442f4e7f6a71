package dev.onionrelay.boot;

import static org.assertj.core.api.Assertions.assertThat;

import dev.onionrelay.store.KeyEncryptionKey;
import dev.onionrelay.store.StoreMigration;
import dev.onionrelay.store.postgres.PgStore;
import dev.onionrelay.support.PgCluster;
import dev.onionrelay.support.Scenario;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.postgresql.ds.PGSimpleDataSource;

/**
 * {@code --onion.store.migrate-only}: the separate migration step migrates the store and says so with exit code 0, so
 * that instances with {@code onion.store.migrate=validate} start on it; a database that refuses it is exit code 1.
 */
@Scenario
class StoreMigrationCommandTest {

    @Test
    void migrateOnlyMigratesTheStoreForValidatingInstancesAndFailsWithOneCodeOnARefusal() {
        try (PgCluster cluster = PgCluster.create()) {
            String url = cluster.createDatabase("migrate_only");
            assertThat(StoreMigrationCommand.requested(new String[] {"--x=1", "--onion.store.migrate-only"}))
                    .isTrue();
            assertThat(StoreMigrationCommand.requested(new String[] {"--x=1"})).isFalse();

            assertThat(StoreMigrationCommand.run(new String[] {
                        "--onion.store.migrate-only",
                        "--spring.datasource.url=" + url,
                        "--spring.datasource.username=" + PgCluster.USER,
                        "--spring.datasource.password=not-the-password"
                    }))
                    .isEqualTo(1);
            assertThat(StoreMigrationCommand.run(new String[] {
                        "--onion.store.migrate-only",
                        "--spring.datasource.url=" + url,
                        "--spring.datasource.username=" + PgCluster.USER,
                        "--spring.datasource.password=" + PgCluster.PASSWORD
                    }))
                    .isEqualTo(0);

            PGSimpleDataSource dataSource = new PGSimpleDataSource();
            dataSource.setUrl(url);
            dataSource.setUser(PgCluster.USER);
            dataSource.setPassword(PgCluster.PASSWORD);
            PgStore validating = new PgStore(
                    dataSource, new KeyEncryptionKey(new byte[32]), Duration.ofSeconds(5), StoreMigration.VALIDATE);
            assertThat(validating.prepare()).as("the schema is there").isTrue();
        }
    }
}
