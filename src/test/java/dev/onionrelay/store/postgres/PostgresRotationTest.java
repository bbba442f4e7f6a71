package dev.onionrelay.store.postgres;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import dev.onionrelay.credential.Credential;
import dev.onionrelay.credential.CredentialException;
import dev.onionrelay.credential.NewCredential;
import dev.onionrelay.credential.PemCodec;
import dev.onionrelay.registry.StoredRelay;
import dev.onionrelay.relay.Endpoint;
import dev.onionrelay.relay.RelayException;
import dev.onionrelay.relay.RelayOptions;
import dev.onionrelay.relay.RelaySpec;
import dev.onionrelay.relay.target.TargetSpec;
import dev.onionrelay.store.KeyEncryptionKey;
import dev.onionrelay.support.Layers;
import dev.onionrelay.support.PgCluster;
import dev.onionrelay.support.Scenario;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Rotation and replacement rules kept by a real PostgreSQL across two "instances" (each its own pool and
 * repositories) on one database: a rotation is read by the other instance with its version; an identity that a relay
 * of any instance presents is not turned into a trust credential, also when the rotation and the relay's save happen
 * at the same moment on different instances; of two replacements of one relay from the same revision, one wins.
 */
@Scenario
class PostgresRotationTest {

    private static final int RACE_ROUNDS = 12;
    private static final AtomicInteger NEXT_PORT = new AtomicInteger(7600);

    private static PgCluster cluster;
    private final List<HikariDataSource> pools = new ArrayList<>();
    private Instance a;
    private Instance b;

    private record Instance(PostgresCredentialRepository credentials, PostgresRelayStore relays) {}

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

    @BeforeEach
    void twoInstances() {
        String url =
                cluster.createDatabase("rot_" + UUID.randomUUID().toString().substring(0, 8));
        KeyEncryptionKey kek = kek();
        a = instance(url, kek);
        b = instance(url, kek);
    }

    @AfterEach
    void closePools() {
        pools.forEach(HikariDataSource::close);
    }

    @Test
    void aRotationThroughOneInstanceIsReadByTheOtherWithItsVersion() {
        a.credentials().create(new NewCredential.GenerateCa("ca", "fleet CA", null));
        Credential first = a.credentials().create(issued("hop"));
        b.credentials().refresh();

        Credential rotated = a.credentials().rotate(issued("hop"));

        assertThat(rotated.version()).isEqualTo(2);
        assertThat(rotated.rotatedAt()).isNotNull();
        assertThat(rotated.createdAt()).isEqualTo(first.createdAt());
        assertThat(b.credentials().refresh()).containsExactly("hop");
        Credential read = b.credentials().find("hop").orElseThrow();
        assertThat(read.version()).isEqualTo(2);
        assertThat(read.leaf()).isEqualTo(rotated.leaf());
        assertThat(read.privateKey()).isEqualTo(rotated.privateKey());
        assertThat(b.credentials().rotate(issued("hop")).version())
                .as("the next rotation, through the other instance")
                .isEqualTo(3);
    }

    @Test
    void anIdentityARelayOfAnotherInstancePresentsIsNotTurnedIntoATrustCredential() {
        a.credentials().create(new NewCredential.GenerateCa("ca", "fleet CA", null));
        Credential hop = a.credentials().create(issued("hop"));
        a.relays().save(presenting("exit", "hop"));
        b.credentials().refresh();

        assertThatThrownBy(() -> b.credentials().rotate(trust("hop", hop)))
                .isInstanceOfSatisfying(CredentialException.class, e -> assertThat(e.kind())
                        .isEqualTo(CredentialException.Kind.CONFLICT))
                .hasMessageContaining("exit");
        assertThat(a.credentials().refresh()).as("nothing changed").isEmpty();
    }

    @Test
    void aRotationIntoTrustAndARelayPresentingItAtTheSameMomentNeverBothSucceed() throws Exception {
        a.credentials().create(new NewCredential.GenerateCa("ca", "fleet CA", null));
        List<String> outcomes = new ArrayList<>();
        for (int round = 0; round < RACE_ROUNDS; round++) {
            String name = "hop-" + round;
            String relayName = "exit-" + round;
            Credential hop = a.credentials().create(issued(name));
            b.credentials().refresh();
            CyclicBarrier start = new CyclicBarrier(2);
            CompletableFuture<Boolean> rotated = CompletableFuture.supplyAsync(() -> {
                await(start);
                try {
                    b.credentials().rotate(trust(name, hop));
                    return true;
                } catch (CredentialException e) {
                    return false;
                }
            });
            CompletableFuture<Boolean> saved = CompletableFuture.supplyAsync(() -> {
                await(start);
                try {
                    a.relays().save(presenting(relayName, name));
                    return true;
                } catch (RelayException e) {
                    return false;
                }
            });
            outcomes.add((rotated.get() ? "rotated" : "-") + "/" + (saved.get() ? "saved" : "-"));
        }
        assertThat(outcomes)
                .as("each round: exactly one of the two")
                .allMatch(o -> o.equals("rotated/-") || o.equals("-/saved"));
    }

    @Test
    void ofTwoReplacementsOfOneRelayFromTheSameRevisionOneWins() throws Exception {
        StoredRelay relay = presenting("entry", null);
        a.relays().save(relay);
        StoredRelay viaA = new StoredRelay(relay.id(), relay.createdAt(), relay.spec(), 2);
        StoredRelay viaB = new StoredRelay(relay.id(), relay.createdAt(), relay.spec(), 2);
        CyclicBarrier start = new CyclicBarrier(2);
        List<CompletableFuture<String>> both = List.of(
                CompletableFuture.supplyAsync(() -> replace(a, viaA, start)),
                CompletableFuture.supplyAsync(() -> replace(b, viaB, start)));
        List<String> outcomes = new ArrayList<>();
        for (CompletableFuture<String> outcome : both) {
            outcomes.add(outcome.get());
        }
        assertThat(outcomes).containsExactlyInAnyOrder("replaced", "CONFLICT revision");
        assertThat(b.relays().load())
                .singleElement()
                .extracting(StoredRelay::revision)
                .isEqualTo(2L);

        assertThatThrownBy(() -> a.relays().replace(new StoredRelay("gone", Instant.now(), relay.spec(), 2)))
                .isInstanceOfSatisfying(
                        RelayException.class, e -> assertThat(e.kind()).isEqualTo(RelayException.Kind.NOT_FOUND));
    }

    private static String replace(Instance instance, StoredRelay relay, CyclicBarrier start) {
        await(start);
        try {
            instance.relays().replace(relay);
            return "replaced";
        } catch (RelayException e) {
            return e.kind() + " " + e.field();
        }
    }

    private Instance instance(String url, KeyEncryptionKey kek) {
        HikariConfig config = new HikariConfig();
        config.setJdbcUrl(url);
        config.setUsername(PgCluster.USER);
        config.setPassword(PgCluster.PASSWORD);
        config.setConnectionTimeout(5000);
        HikariDataSource pool = new HikariDataSource(config);
        pools.add(pool);
        PgStore db = new PgStore(pool, kek, Duration.ofSeconds(5));
        assertThat(db.prepare()).as("admitted").isTrue();
        return new Instance(new PostgresCredentialRepository(db), new PostgresRelayStore(db));
    }

    private static NewCredential issued(String name) {
        return new NewCredential.GenerateIssued(name, "ca", name, List.of("localhost"), List.of(), null);
    }

    /** The same credential as a trust credential: its chain without the key. */
    private static NewCredential trust(String name, Credential identity) {
        return new NewCredential.FromPem(name, PemCodec.certificatesToPem(identity.chain()), null);
    }

    /** A relay whose one ingress layer presents {@code credential} (none without one). */
    private static StoredRelay presenting(String name, String credential) {
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

    private static KeyEncryptionKey kek() {
        byte[] key = new byte[32];
        for (int i = 0; i < key.length; i++) {
            key[i] = (byte) (7 * i + 3);
        }
        return new KeyEncryptionKey(key);
    }

    private static void await(CyclicBarrier barrier) {
        try {
            barrier.await();
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }
}
