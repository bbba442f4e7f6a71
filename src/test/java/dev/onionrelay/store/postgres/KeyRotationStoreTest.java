package dev.onionrelay.store.postgres;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import dev.onionrelay.credential.Credential;
import dev.onionrelay.credential.NewCredential;
import dev.onionrelay.store.KeyEncryptionKey;
import dev.onionrelay.store.KeyRing;
import dev.onionrelay.store.StoreConfigurationException;
import dev.onionrelay.store.StoreMigration;
import dev.onionrelay.support.PgCluster;
import dev.onionrelay.support.Scenario;
import java.security.SecureRandom;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CyclicBarrier;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Rotating the key-encryption key of a fleet on a real PostgreSQL, each "instance" its own pool: the fleet's key is
 * the store's (the key check row), so an instance with the new key plus the old one and an instance with the old key
 * alone serve side by side, seal under the same key and read each other's writes; two re-seals at once beside writes
 * leave every secret under the new key; afterwards the new key alone serves everything and the old key alone is
 * refused.
 */
@Scenario
class KeyRotationStoreTest {

    private static PgCluster cluster;
    private static final List<HikariDataSource> pools = new ArrayList<>();
    private static final SecureRandom random = new SecureRandom();

    @BeforeAll
    static void startCluster() {
        cluster = PgCluster.create();
    }

    @AfterAll
    static void stopCluster() {
        pools.forEach(HikariDataSource::close);
        if (cluster != null) {
            cluster.close();
        }
    }

    @Test
    void aFleetMovesToTheNewKeyWhileServingAndTheOldKeyAloneIsRefusedAfterwards() throws Exception {
        String url = cluster.createDatabase("rotation");
        KeyEncryptionKey oldKey = key();
        KeyEncryptionKey newKey = key();
        KeyRing rotating = new KeyRing(newKey, List.of(oldKey));

        PgStore oldOnly = store(url, KeyRing.of(oldKey));
        PostgresCredentialRepository onOld = new PostgresCredentialRepository(oldOnly);
        onOld.create(new NewCredential.GenerateCa("ca", "rotation CA", null));
        for (int i = 0; i < 20; i++) {
            onOld.create(new NewCredential.GenerateIssued(
                    "hop-" + i, "ca", "localhost", List.of("localhost"), List.of(), null));
        }
        oldOnly.adminToken(() -> "the-fleets-admin-token");

        PgStore mixed = store(url, rotating);
        PostgresCredentialRepository onMixed = new PostgresCredentialRepository(mixed);
        onMixed.refresh();
        onMixed.create(new NewCredential.GenerateIssued(
                "written-by-mixed", "ca", "localhost", List.of("localhost"), List.of(), null));
        assertThat(keyIdOf(url, "written-by-mixed"))
                .as("sealed under the fleet's key, not the instance's current one")
                .isEqualTo(oldKey.id());
        assertThat(onOld.refresh()).contains("written-by-mixed");
        assertThat(onOld.find("written-by-mixed").orElseThrow().privateKey()).isNotNull();

        // Two re-seals at once while the mixed instance keeps creating credentials.
        CyclicBarrier go = new CyclicBarrier(3);
        List<CompletableFuture<?>> work = new ArrayList<>();
        for (int i = 0; i < 2; i++) {
            PgStore resealing = store(url, rotating);
            work.add(CompletableFuture.supplyAsync(() -> {
                await(go);
                return new KeyResealer(resealing).reseal();
            }));
        }
        work.add(CompletableFuture.runAsync(() -> {
            await(go);
            for (int i = 0; i < 10; i++) {
                onMixed.create(new NewCredential.GenerateIssued(
                        "during-" + i, "ca", "localhost", List.of("localhost"), List.of(), null));
            }
        }));
        CompletableFuture.allOf(work.toArray(CompletableFuture[]::new)).join();
        assertThat(((KeyResealer.Result) work.get(0).join()).keyIdsInUse()).containsExactly(newKey.id());

        assertThat(keyIds(url))
                .as("every sealed row and the key check under the new key")
                .containsOnlyKeys(newKey.id())
                .containsEntry(newKey.id(), 1 + 20 + 1 + 10 + 2);

        PgStore newOnly = store(url, KeyRing.of(newKey));
        PostgresCredentialRepository onNew = new PostgresCredentialRepository(newOnly);
        onNew.refresh();
        onMixed.refresh();
        assertThat(onNew.list()).hasSize(1 + 20 + 1 + 10);
        for (Credential credential : onMixed.list()) {
            Credential served = onNew.find(credential.name()).orElseThrow();
            assertThat(served.chain()).isEqualTo(credential.chain());
            assertThat(served.privateKey()).isEqualTo(credential.privateKey());
        }
        assertThat(newOnly.adminToken(() -> "another")).isEqualTo("the-fleets-admin-token");

        PgStore lateOldOnly = unprepared(url, KeyRing.of(oldKey));
        assertThatThrownBy(lateOldOnly::prepare)
                .isInstanceOf(StoreConfigurationException.class)
                .hasMessageContaining(FleetKeys.MISMATCH)
                .hasMessageContaining(newKey.id());
        assertThatThrownBy(onOld::refresh)
                .as("the old-only instance that was running notices at its next read")
                .isInstanceOf(StoreConfigurationException.class)
                .hasMessageContaining(newKey.id());
        assertThat(onOld.find("hop-3")).as("and keeps serving its last state").isPresent();
    }

    @Test
    void anInstanceMissingAKeyAnyRowIsStillSealedUnderIsNotAdmitted() {
        String url = cluster.createDatabase("interrupted");
        KeyEncryptionKey oldKey = key();
        KeyEncryptionKey newKey = key();
        PostgresCredentialRepository onOld = new PostgresCredentialRepository(store(url, KeyRing.of(oldKey)));
        onOld.create(new NewCredential.GenerateCa("ca", "rotation CA", null));
        // As after a re-seal interrupted once the fleet's key moved: the key check under the new key, a row not yet.
        PgStore mixed = store(url, new KeyRing(newKey, List.of(oldKey)));
        mixed.transaction("move only the key check", connection -> {
            byte[] plain;
            try {
                plain = oldKey.open(checkValue(connection), FleetKeys.KEY_CHECK);
            } catch (java.security.GeneralSecurityException e) {
                throw new IllegalStateException(e);
            }
            try (var update = connection.prepareStatement("UPDATE settings SET value = ?, key_id = ? WHERE name = ?")) {
                update.setBytes(1, newKey.seal(plain, FleetKeys.KEY_CHECK));
                update.setString(2, newKey.id());
                update.setString(3, FleetKeys.KEY_CHECK);
                update.executeUpdate();
            }
            return null;
        });

        assertThatThrownBy(unprepared(url, KeyRing.of(newKey))::prepare)
                .isInstanceOf(StoreConfigurationException.class)
                .hasMessageContaining("sealed under key id " + oldKey.id());
        assertThat(new KeyResealer(store(url, new KeyRing(newKey, List.of(oldKey))))
                        .reseal()
                        .credentials())
                .as("running the re-seal again finishes it")
                .isEqualTo(1);
        assertThat(unprepared(url, KeyRing.of(newKey)).prepare()).isTrue();
    }

    /**
     * A credential replaced while the re-seal is about to write it (the re-seal read the old value, the replacement
     * holds the row): the re-seal's conditional update finds the row changed, reads it again and re-seals the
     * replacement; an unconditional one would put the old private key back.
     */
    @Test
    void aSecretReplacedUnderTheResealIsReadAgainNeverOverwrittenWithTheOldValue() throws Exception {
        String url = cluster.createDatabase("replaced");
        KeyEncryptionKey oldKey = key();
        KeyEncryptionKey newKey = key();
        new PostgresCredentialRepository(store(url, KeyRing.of(oldKey)))
                .create(new NewCredential.GenerateCa("ca", "rotation CA", null));
        byte[] replacement = "-----BEGIN PRIVATE KEY-----\nthe replacement\n".getBytes();
        PgStore resealing = store(url, new KeyRing(newKey, List.of(oldKey)));

        CompletableFuture<KeyResealer.Result> reseal;
        try (Connection replacing = java.sql.DriverManager.getConnection(url, PgCluster.USER, PgCluster.PASSWORD)) {
            replacing.setAutoCommit(false);
            try (var update = replacing.prepareStatement("UPDATE credentials SET private_key = ? WHERE name = 'ca'")) {
                update.setBytes(1, oldKey.seal(replacement, "credential:ca"));
                update.executeUpdate();
            }
            reseal = CompletableFuture.supplyAsync(() -> new KeyResealer(resealing).reseal());
            org.awaitility.Awaitility.await()
                    .atMost(Duration.ofSeconds(30))
                    .until(() -> waitingOnARowLock(url) || reseal.isDone());
            replacing.commit();
        }
        assertThat(reseal.join().credentials()).isEqualTo(1);
        try (Connection connection = java.sql.DriverManager.getConnection(url, PgCluster.USER, PgCluster.PASSWORD);
                Statement select = connection.createStatement();
                ResultSet row = select.executeQuery("SELECT private_key, key_id FROM credentials WHERE name = 'ca'")) {
            row.next();
            assertThat(row.getString(2)).isEqualTo(newKey.id());
            assertThat(newKey.open(row.getBytes(1), "credential:ca")).isEqualTo(replacement);
        }
    }

    private static boolean waitingOnARowLock(String url) throws Exception {
        try (Connection connection = java.sql.DriverManager.getConnection(url, PgCluster.USER, PgCluster.PASSWORD);
                Statement select = connection.createStatement();
                ResultSet row = select.executeQuery("SELECT count(*) FROM pg_stat_activity WHERE datname ="
                        + " current_database() AND wait_event_type = 'Lock' AND query LIKE 'UPDATE credentials%'")) {
            row.next();
            return row.getInt(1) > 0;
        }
    }

    private static byte[] checkValue(Connection connection) throws java.sql.SQLException {
        try (Statement select = connection.createStatement();
                ResultSet row = select.executeQuery("SELECT value FROM settings WHERE name = 'key-check'")) {
            row.next();
            return row.getBytes(1);
        }
    }

    private static KeyEncryptionKey key() {
        byte[] bytes = new byte[32];
        random.nextBytes(bytes);
        return new KeyEncryptionKey(bytes);
    }

    private static PgStore store(String url, KeyRing keys) {
        PgStore store = unprepared(url, keys);
        assertThat(store.prepare()).as("admitted").isTrue();
        return store;
    }

    private static PgStore unprepared(String url, KeyRing keys) {
        HikariConfig config = new HikariConfig();
        config.setJdbcUrl(url);
        config.setUsername(PgCluster.USER);
        config.setPassword(PgCluster.PASSWORD);
        config.setMaximumPoolSize(4);
        config.setInitializationFailTimeout(-1);
        HikariDataSource pool = new HikariDataSource(config);
        pools.add(pool);
        return new PgStore(pool, keys, Duration.ofSeconds(5), StoreMigration.AUTO);
    }

    /** How many sealed rows (credentials and settings) each key id seals, read straight from the database. */
    private static Map<String, Integer> keyIds(String url) throws Exception {
        Map<String, Integer> counts = new TreeMap<>();
        try (Connection connection = java.sql.DriverManager.getConnection(url, PgCluster.USER, PgCluster.PASSWORD);
                Statement select = connection.createStatement();
                ResultSet row = select.executeQuery("SELECT key_id, count(*) FROM (SELECT key_id FROM credentials"
                        + " WHERE key_id IS NOT NULL UNION ALL SELECT key_id FROM settings) k GROUP BY key_id")) {
            while (row.next()) {
                counts.put(row.getString(1), row.getInt(2));
            }
        }
        return counts;
    }

    private static String keyIdOf(String url, String credential) throws Exception {
        try (Connection connection = java.sql.DriverManager.getConnection(url, PgCluster.USER, PgCluster.PASSWORD);
                var select = connection.prepareStatement("SELECT key_id FROM credentials WHERE name = ?")) {
            select.setString(1, credential);
            try (ResultSet row = select.executeQuery()) {
                row.next();
                return row.getString(1);
            }
        }
    }

    private static void await(CyclicBarrier barrier) {
        try {
            barrier.await();
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }
}
