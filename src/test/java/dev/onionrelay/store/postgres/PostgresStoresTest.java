package dev.onionrelay.store.postgres;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import dev.onionrelay.credential.Credential;
import dev.onionrelay.credential.CredentialException;
import dev.onionrelay.credential.NewCredential;
import dev.onionrelay.registry.StoredRelay;
import dev.onionrelay.relay.Endpoint;
import dev.onionrelay.relay.RelayException;
import dev.onionrelay.relay.RelayOptions;
import dev.onionrelay.relay.RelaySpec;
import dev.onionrelay.relay.target.TargetSpec;
import dev.onionrelay.store.KeyEncryptionKey;
import dev.onionrelay.store.StoreConfigurationException;
import dev.onionrelay.store.StoreUnavailableException;
import dev.onionrelay.support.Layers;
import dev.onionrelay.support.PgCluster;
import dev.onionrelay.support.Scenario;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;

/**
 * The PostgreSQL stores on a real server, two "instances" (each its own pool and repository) on one database: what
 * one writes the other reads, names and the credential in-use rule hold across them, no row shows key material, a
 * wrong key-encryption key is refused by name and an unreachable database refuses changes without half-applying them.
 */
@Scenario
class PostgresStoresTest {

    private static PgCluster cluster;
    private final List<HikariDataSource> pools = new ArrayList<>();
    private String url;

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
        pools.forEach(HikariDataSource::close);
    }

    private Instance instance(KeyEncryptionKey kek) {
        HikariConfig config = new HikariConfig();
        config.setJdbcUrl(url);
        config.setUsername(PgCluster.USER);
        config.setPassword(PgCluster.PASSWORD);
        config.setConnectionTimeout(1000);
        config.setInitializationFailTimeout(-1);
        HikariDataSource pool = new HikariDataSource(config);
        pools.add(pool);
        PgStore db = new PgStore(pool, kek, Duration.ofSeconds(5));
        assertThat(db.prepare()).as("admitted").isTrue();
        return new Instance(db, new PostgresCredentialRepository(db), new PostgresRelayStore(db));
    }

    private record Instance(PgStore db, PostgresCredentialRepository credentials, PostgresRelayStore relays) {}

    @org.junit.jupiter.api.BeforeEach
    void database(TestInfo test) {
        url = cluster.createDatabase("t_"
                + test.getTestMethod()
                        .orElseThrow()
                        .getName()
                        .toLowerCase()
                        .replaceAll("[^a-z0-9]", "")
                        .substring(0, 20)
                + "_" + UUID.randomUUID().toString().substring(0, 6));
    }

    @Test
    void whatOneInstanceStoresTheOtherReadsKeysIncluded() {
        Instance a = instance(key(1));
        Instance b = instance(key(1));
        Credential ca = a.credentials().create(new NewCredential.GenerateCa("ca", "fleet CA", null));
        Credential hop = a.credentials()
                .create(new NewCredential.GenerateIssued(
                        "hop", "ca", "localhost", List.of("localhost"), List.of(), null));
        StoredRelay relay = stored("r1", "hop");
        a.relays().save(relay);

        assertThat(b.credentials().refresh()).containsExactly("ca", "hop");
        assertThat(b.credentials().find("hop").orElseThrow().privateKey()).isEqualTo(hop.privateKey());
        assertThat(b.credentials().find("ca").orElseThrow().chain()).isEqualTo(ca.chain());
        assertThat(b.relays().load()).containsExactly(relay);
        assertThat(b.credentials().refresh()).as("nothing changed since").isEmpty();

        b.relays().delete(relay.id());
        assertThat(a.relays().load()).isEmpty();
    }

    @Test
    void ofConcurrentCreatesOfOneNameOnTwoInstancesExactlyOneWins() throws Exception {
        Instance a = instance(key(1));
        Instance b = instance(key(1));
        ExecutorService pool = Executors.newFixedThreadPool(8);
        try {
            List<Future<String>> results = new ArrayList<>();
            for (int i = 0; i < 16; i++) {
                PostgresRelayStore store = i % 2 == 0 ? a.relays() : b.relays();
                results.add(pool.submit((Callable<String>) () -> {
                    try {
                        store.save(stored("same", null));
                        return "created";
                    } catch (RelayException e) {
                        return e.kind() + " " + e.field();
                    }
                }));
            }
            List<String> outcomes = new ArrayList<>();
            for (Future<String> result : results) {
                outcomes.add(result.get());
            }
            assertThat(outcomes).filteredOn("created"::equals).hasSize(1);
            assertThat(outcomes).filteredOn("CONFLICT name"::equals).hasSize(15);
        } finally {
            pool.shutdownNow();
        }
        assertThat(a.relays().load()).hasSize(1);
    }

    @Test
    void aCredentialUsedByARelayOfAnyInstanceCannotBeDeleted() {
        Instance a = instance(key(1));
        Instance b = instance(key(1));
        a.credentials().create(new NewCredential.GenerateCa("ca", "fleet CA", null));
        a.credentials().create(new NewCredential.GenerateIssued("hop", "ca", "localhost", List.of(), List.of(), null));
        StoredRelay relay = stored("uses-hop", "hop");
        a.relays().save(relay);
        b.credentials().refresh();

        assertThatThrownBy(() -> b.credentials().delete("hop"))
                .isInstanceOfSatisfying(CredentialException.class, e -> assertThat(e.kind())
                        .isEqualTo(CredentialException.Kind.CONFLICT))
                .hasMessageContaining("uses-hop");
        assertThat(b.credentials().find("hop")).as("nothing half-done").isPresent();

        a.relays().delete(relay.id());
        b.credentials().delete("hop");
        assertThat(a.credentials().refresh()).containsExactly("hop");
        assertThat(a.credentials().find("hop")).isEmpty();
        assertThatThrownBy(() -> b.credentials().delete("hop"))
                .isInstanceOfSatisfying(CredentialException.class, e -> assertThat(e.kind())
                        .isEqualTo(CredentialException.Kind.NOT_FOUND));
    }

    @Test
    void aRelayNamingACredentialAnotherInstanceDeletedAMomentAgoIsRefusedNamingIt() {
        Instance a = instance(key(1));
        Instance b = instance(key(1));
        a.credentials().create(new NewCredential.GenerateCa("ca", "fleet CA", null));
        a.credentials().create(new NewCredential.GenerateIssued("hop", "ca", "localhost", List.of(), List.of(), null));
        b.credentials().refresh();
        a.credentials().delete("hop");
        assertThat(b.credentials().find("hop"))
                .as("b has not read the delete yet")
                .isPresent();

        StoredRelay relay = stored("uses-gone", "hop");
        assertThatThrownBy(() -> b.relays().save(relay))
                .isInstanceOfSatisfying(
                        RelayException.class, e -> assertThat(e.kind()).isEqualTo(RelayException.Kind.CONFLICT))
                .hasMessageContaining("'hop'");
        assertThat(a.relays().load()).as("nothing half-created").isEmpty();
    }

    @Test
    void aListenPortBelongsToOneRelayOfTheFleetWhateverTheHost() {
        Instance a = instance(key(1));
        Instance b = instance(key(1));
        StoredRelay holder = stored("holder", null);
        a.relays().save(holder);
        int port = holder.spec().listen().port();
        StoredRelay sameHost = withListen(stored("same-host", null), "127.0.0.1", port);
        StoredRelay wildcard = withListen(stored("wildcard", null), "0.0.0.0", port);

        for (StoredRelay clash : List.of(sameHost, wildcard)) {
            assertThatThrownBy(() -> b.relays().save(clash))
                    .isInstanceOfSatisfying(RelayException.class, e -> {
                        assertThat(e.kind()).isEqualTo(RelayException.Kind.CONFLICT);
                        assertThat(e.field()).isEqualTo("listen.port");
                    })
                    .hasMessageContaining("'holder'");
        }
        a.relays().delete(holder.id());
        b.relays().save(wildcard);
        assertThat(a.relays().load()).containsExactly(wildcard);
    }

    private static StoredRelay withListen(StoredRelay relay, String host, int port) {
        RelaySpec spec = relay.spec();
        return new StoredRelay(
                relay.id(),
                relay.createdAt(),
                new RelaySpec(
                        spec.name(),
                        new Endpoint(host, port),
                        spec.target(),
                        spec.ingress(),
                        spec.egress(),
                        spec.options(),
                        spec.upstream()));
    }

    @Test
    void noRowOfAnyTableShowsKeyMaterial() throws Exception {
        Instance a = instance(key(1));
        a.credentials().create(new NewCredential.GenerateCa("ca", "fleet CA", null));
        Credential hop = a.credentials()
                .create(new NewCredential.GenerateIssued("hop", "ca", "localhost", List.of(), List.of(), null));
        a.relays().save(stored("r1", "hop"));
        a.db().adminToken(() -> "the-generated-admin-token");
        byte[] der = hop.privateKey().getEncoded();
        String derHex = HexFormat.of().formatHex(der);
        String derBase64 = Base64.getEncoder().encodeToString(der);

        List<String> cells = new ArrayList<>();
        try (Connection connection = java.sql.DriverManager.getConnection(url, PgCluster.USER, PgCluster.PASSWORD);
                Statement statement = connection.createStatement()) {
            List<String[]> columns = new ArrayList<>();
            try (ResultSet rows =
                    statement.executeQuery("SELECT table_name, column_name, data_type FROM information_schema.columns"
                            + " WHERE table_schema = 'public'")) {
                while (rows.next()) {
                    columns.add(new String[] {rows.getString(1), rows.getString(2), rows.getString(3)});
                }
            }
            assertThat(columns).extracting(c -> c[0]).contains("credentials", "relays", "settings", "changes");
            for (String[] column : columns) {
                String select = "bytea".equals(column[2])
                        ? "SELECT encode(\"" + column[1] + "\", 'hex') FROM \"" + column[0] + "\""
                        : "SELECT \"" + column[1] + "\"::text FROM \"" + column[0] + "\"";
                try (ResultSet rows = statement.executeQuery(select)) {
                    while (rows.next()) {
                        if (rows.getString(1) != null) {
                            cells.add(column[0] + "." + column[1] + "=" + rows.getString(1));
                        }
                    }
                }
            }
        }
        assertThat(cells).anyMatch(cell -> cell.startsWith("credentials.private_key="));
        assertThat(cells).anyMatch(cell -> cell.contains("BEGIN CERTIFICATE"));
        for (String cell : cells) {
            assertThat(cell)
                    .doesNotContain("PRIVATE KEY")
                    .doesNotContain(derHex)
                    .doesNotContain(derBase64)
                    .doesNotContain(
                            HexFormat.of().formatHex("the-generated-admin-token".getBytes(StandardCharsets.UTF_8)))
                    .doesNotContain("the-generated-admin-token");
        }
    }

    @Test
    void anotherKeyEncryptionKeyIsRefusedNamingTheSettingAndBothKeyIds() {
        instance(key(1)).credentials().create(new NewCredential.GenerateCa("ca", "fleet CA", null));

        assertThatThrownBy(() -> instance(key(2)))
                .isInstanceOf(StoreConfigurationException.class)
                .hasMessage("onion.store.encryption-key-file does not decrypt the stored credentials (key id "
                        + key(2).id() + "; the store was written with key id " + key(1).id() + ")");
        assertThat(instance(key(1)).credentials().refresh()).containsExactly("ca");
    }

    @Test
    void anUnreachableDatabaseRefusesChangesAndTheLastStateStaysReadable() {
        Instance a = instance(key(1));
        a.relays().save(stored("kept", null));
        List<StoredRelay> before = a.relays().load();
        a.credentials().refresh();
        cluster.stop();
        try {
            assertThatThrownBy(() -> a.relays().save(stored("new", null)))
                    .isInstanceOf(StoreUnavailableException.class);
            assertThatThrownBy(() -> a.credentials().create(new NewCredential.GenerateCa("ca", "CA", null)))
                    .isInstanceOf(StoreUnavailableException.class);
            assertThatThrownBy(() -> a.relays().delete(before.get(0).id()))
                    .isInstanceOf(StoreUnavailableException.class);
            assertThat(a.relays().load()).as("the last state read").isEqualTo(before);
            assertThat(a.credentials().find("ca")).isEmpty();
        } finally {
            cluster.start();
        }
        // The pool reconnects on its own after the restart (its first attempts may meet the server's crash recovery).
        await().atMost(Duration.ofSeconds(30)).ignoreExceptions().untilAsserted(() -> assertThat(
                        a.relays().read())
                .as("nothing of the refused changes applied")
                .isEqualTo(before));
    }

    @Test
    void everyChangeIsAnnouncedToTheOtherInstancesFeed() {
        Instance a = instance(key(1));
        Instance b = instance(key(1));
        java.util.concurrent.atomic.AtomicInteger reads = new java.util.concurrent.atomic.AtomicInteger();
        try (ChangeFeed feed = new ChangeFeed(b.db().dataSource(), Duration.ofMinutes(10), reads::incrementAndGet)) {
            feed.start();
            org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(5)).until(() -> reads.get() == 1);
            for (int change = 1; change <= 3; change++) {
                a.relays().save(stored("announced-" + change, null));
                int expected = change + 1;
                org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(2)).until(() -> reads.get() >= expected);
            }
            assertThat(feed.connected()).isTrue();
        }
    }

    /** Each relay on a port of its own: a listen port belongs to one relay of the fleet. */
    private static final AtomicInteger NEXT_PORT = new AtomicInteger(7000);

    private static StoredRelay stored(String name, String credential) {
        RelaySpec spec = new RelaySpec(
                name,
                new Endpoint("127.0.0.1", NEXT_PORT.getAndIncrement()),
                TargetSpec.fixed(new Endpoint("127.0.0.1", 9)),
                credential == null ? List.of() : List.of(Layers.server("outer", credential)),
                List.of(),
                new RelayOptions(
                        10,
                        Duration.ofSeconds(5),
                        Duration.ofSeconds(5),
                        Duration.ofMinutes(1),
                        credential == null ? 0 : 1,
                        0));
        return new StoredRelay(UUID.randomUUID().toString(), Instant.now().truncatedTo(ChronoUnit.MILLIS), spec);
    }

    private static KeyEncryptionKey key(int seed) {
        byte[] key = new byte[32];
        for (int i = 0; i < key.length; i++) {
            key[i] = (byte) (seed * 17 + i);
        }
        return new KeyEncryptionKey(key);
    }
}
