package dev.onionrelay.store.postgres;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.onionrelay.credential.NewCredential;
import dev.onionrelay.store.KeyEncryptionKey;
import dev.onionrelay.store.StoreConfigurationException;
import dev.onionrelay.store.StoreMigration;
import dev.onionrelay.store.StoreUnavailableException;
import dev.onionrelay.support.PgCluster;
import dev.onionrelay.support.Scenario;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import javax.sql.DataSource;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.postgresql.ds.PGSimpleDataSource;

/**
 * A store that answers but cannot be used is told apart from one that cannot be reached, on a real PostgreSQL: each
 * misconfiguration is a {@link StoreConfigurationException} naming it (what health, logs and 503s show), an outage a
 * {@link StoreUnavailableException}; admission keeps the reason.
 */
@Scenario
class StoreErrorsTest {

    static PgCluster cluster;
    final List<com.zaxxer.hikari.HikariDataSource> pools = new ArrayList<>();

    @BeforeAll
    static void startCluster() {
        cluster = PgCluster.create();
    }

    @AfterAll
    static void stopCluster() {
        if (cluster != null) {
            cluster.close();
        }
    }

    @AfterEach
    void closePools() {
        pools.forEach(com.zaxxer.hikari.HikariDataSource::close);
    }

    private com.zaxxer.hikari.HikariDataSource pool(String url, String password) {
        com.zaxxer.hikari.HikariConfig config = new com.zaxxer.hikari.HikariConfig();
        config.setJdbcUrl(url);
        config.setUsername(PgCluster.USER);
        config.setPassword(password);
        config.setConnectionTimeout(1000);
        config.setInitializationFailTimeout(-1);
        com.zaxxer.hikari.HikariDataSource pool = new com.zaxxer.hikari.HikariDataSource(config);
        pools.add(pool);
        return pool;
    }

    private static PgStore store(DataSource dataSource, StoreMigration migration) {
        return new PgStore(dataSource, new KeyEncryptionKey(new byte[32]), Duration.ofSeconds(5), migration);
    }

    private static String database() {
        return cluster.createDatabase("e_" + UUID.randomUUID().toString().substring(0, 8));
    }

    @Test
    void aRefusedPasswordIsAConfigurationErrorNotAnOutage() {
        PgStore store = store(pool(database(), "not-the-password"), StoreMigration.AUTO);
        assertThatThrownBy(store::prepare)
                .isInstanceOf(StoreConfigurationException.class)
                .hasMessageStartingWith("the store refused authentication: ")
                .hasMessageContaining("password authentication failed for user \"" + PgCluster.USER + "\"");
        assertThat(store.prepared()).isFalse();
        assertThat(FleetAdmission.of(store).reason()).contains("refused authentication");
    }

    @Test
    void aDroppedTableIsADamagedSchemaForReadsWritesAndTheCheck() throws SQLException {
        DataSource pool = pool(database(), PgCluster.PASSWORD);
        PgStore store = store(pool, StoreMigration.AUTO);
        assertThat(store.prepare()).isTrue();
        PostgresRelayStore relays = new PostgresRelayStore(store);
        execute(pool, "DROP TABLE changes");

        assertThatThrownBy(() -> store.schema().checkTables())
                .isInstanceOf(StoreConfigurationException.class)
                .hasMessageContaining("table changes is missing");
        PostgresCredentialRepository credentials = new PostgresCredentialRepository(store);
        assertThatThrownBy(() -> credentials.create(new NewCredential.GenerateCa("ca", "fleet CA", null)))
                .isInstanceOf(StoreConfigurationException.class)
                .hasMessageStartingWith("the store's schema is damaged: ")
                .hasMessageContaining("\"changes\" does not exist");
        execute(pool, "DROP TABLE relays CASCADE");
        assertThatThrownBy(relays::read)
                .isInstanceOf(StoreConfigurationException.class)
                .hasMessageContaining("\"relays\" does not exist");
    }

    @Test
    void aSchemaNewerThanThisVersionIsRefusedInBothModes() throws SQLException {
        DataSource pool = pool(database(), PgCluster.PASSWORD);
        assertThat(store(pool, StoreMigration.AUTO).prepare()).isTrue();
        execute(
                pool,
                "INSERT INTO flyway_schema_history (installed_rank, version, description, type, script, checksum,"
                        + " installed_by, execution_time, success) SELECT max(installed_rank) + 1, '99', 'from the"
                        + " future', 'SQL', 'V99__from_the_future.sql', 0, 'test', 0, true FROM flyway_schema_history");
        for (StoreMigration mode : StoreMigration.values()) {
            assertThatThrownBy(store(pool, mode)::prepare)
                    .as(mode.name())
                    .isInstanceOf(StoreConfigurationException.class)
                    .hasMessageMatching("the store's schema has version 99, newer than this version knows \\(\\d+\\):"
                            + " a newer onion-relay migrated it");
        }
    }

    @Test
    void validateLeavesAnUnmigratedStoreAloneAndSaysHowToMigrateIt() throws SQLException {
        DataSource pool = pool(database(), PgCluster.PASSWORD);
        PgStore validating = store(pool, StoreMigration.VALIDATE);
        assertThatThrownBy(validating::prepare)
                .isInstanceOfSatisfying(StoreConfigurationException.class, e -> assertThat(e.action())
                        .contains("--onion.store.migrate-only"))
                .hasMessageContaining("onion.store.migrate is validate");
        assertThat(validating.schema().migrate()).as("the separate step").matches("\\d+");
        assertThat(store(pool, StoreMigration.VALIDATE).prepare()).isTrue();
    }

    @Test
    void aStoppedDatabaseIsAnOutageAndAdmissionWaitsForIt() {
        PGSimpleDataSource nowhere = new PGSimpleDataSource();
        nowhere.setUrl("jdbc:postgresql://127.0.0.1:1/none?connectTimeout=1");
        PgStore store = store(nowhere, StoreMigration.AUTO);
        assertThat(store.prepare()).isFalse();
        assertThat(store.problem()).isNull();
        assertThat(FleetAdmission.of(store).reason()).contains("has not been reached yet");
        assertThatThrownBy(store::requireAdmitted).isInstanceOf(StoreUnavailableException.class);
    }

    private static void execute(DataSource dataSource, String sql) throws SQLException {
        try (Connection connection = dataSource.getConnection();
                Statement statement = connection.createStatement()) {
            statement.execute(sql);
        }
    }
}
