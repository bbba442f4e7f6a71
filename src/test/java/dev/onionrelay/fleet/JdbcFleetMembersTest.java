package dev.onionrelay.fleet;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.onionrelay.support.PgCluster;
import dev.onionrelay.support.Scenario;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.flywaydb.core.Flyway;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.postgresql.ds.PGSimpleDataSource;

/**
 * Membership in a real PostgreSQL: a lease on the database's clock, one live instance per name, a dead member gone
 * after its lease, a stopped one at once.
 */
@Scenario
class JdbcFleetMembersTest {

    static final Duration LEASE = Duration.ofSeconds(1);

    static PgCluster cluster;
    PGSimpleDataSource dataSource;
    final List<JdbcFleetMembers> started = new ArrayList<>();

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
    void database(TestInfo test) {
        String url = cluster.createDatabase(
                "members_" + test.getTestMethod().orElseThrow().getName().toLowerCase());
        dataSource = new PGSimpleDataSource();
        dataSource.setUrl(url);
        dataSource.setUser(PgCluster.USER);
        dataSource.setPassword(PgCluster.PASSWORD);
        Flyway.configure()
                .dataSource(dataSource)
                .locations("classpath:db/migration")
                .load()
                .migrate();
    }

    @AfterEach
    void leave() {
        started.forEach(JdbcFleetMembers::close);
    }

    JdbcFleetMembers member(String name) {
        JdbcFleetMembers member = new JdbcFleetMembers(dataSource, name, "http://" + name + ":8080", "1.2.3", LEASE);
        started.add(member);
        return member;
    }

    JdbcFleetMembers joined(String name) {
        JdbcFleetMembers member = member(name);
        member.join();
        member.startHeartbeat();
        return member;
    }

    static List<String> names(FleetMembers members) {
        return members.live().stream().map(Member::name).toList();
    }

    @Test
    void instancesThatJoinSeeEachOtherWithUrlAndVersion() {
        JdbcFleetMembers a = joined("a");
        JdbcFleetMembers b = joined("b");

        await().atMost(Duration.ofSeconds(5))
                .untilAsserted(() -> assertThat(names(a)).containsExactly("a", "b"));
        assertThat(names(b)).containsExactly("a", "b");
        assertThat(b.others()).extracting(Member::url).containsExactly("http://a:8080");
        assertThat(b.live()).extracting(Member::version).containsOnly("1.2.3");
    }

    @Test
    void aSecondLiveInstanceOfTheSameNameIsRefusedNamingTheSetting() {
        joined("a");

        assertThatThrownBy(() -> member("a").join())
                .isInstanceOf(DuplicateInstanceException.class)
                .hasMessageContaining("'a'")
                .hasMessageContaining("http://a:8080")
                .hasMessageContaining("onion.fleet.instance-name");
    }

    @Test
    void aMemberThatStopsHeartbeatingDropsOutAfterItsLeaseAndItsNameIsFreeAgain() throws Exception {
        JdbcFleetMembers a = joined("a");
        JdbcFleetMembers killed = member("b");
        killed.join(); // and no heartbeat: as if killed right after joining
        await().atMost(Duration.ofSeconds(5))
                .untilAsserted(() -> assertThat(names(a)).containsExactly("a", "b"));

        await().atMost(LEASE.multipliedBy(5))
                .untilAsserted(() -> assertThat(names(a)).containsExactly("a"));

        JdbcFleetMembers restarted = joined("b");
        assertThat(names(restarted)).containsExactly("a", "b");
    }

    @Test
    void aMemberThatStopsRenewingIsSuspectForOneMoreLeaseLiveAgainWhenItRenewsAndGoneAfterTheSecondLease() {
        JdbcFleetMembers a = joined("a");
        JdbcFleetMembers silent = member("b");
        silent.join(); // no heartbeat: as if paused right after joining
        await().atMost(Duration.ofSeconds(5))
                .untilAsserted(() -> assertThat(names(a)).containsExactly("a", "b"));

        await().atMost(LEASE.multipliedBy(3)).untilAsserted(() -> {
            assertThat(names(a)).containsExactly("a");
            assertThat(suspectNames(a)).containsExactly("b");
        });
        silent.beat(); // the paused process runs again
        await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> {
            assertThat(names(a)).containsExactly("a", "b");
            assertThat(suspectNames(a)).isEmpty();
        });

        await().atMost(LEASE.multipliedBy(3))
                .untilAsserted(() -> assertThat(suspectNames(a)).containsExactly("b"));
        await().atMost(LEASE.multipliedBy(3)).untilAsserted(() -> {
            assertThat(suspectNames(a)).isEmpty();
            assertThat(names(a)).containsExactly("a");
        });
    }

    static List<String> suspectNames(FleetMembers members) {
        return members.suspect().stream().map(Member::name).toList();
    }

    @Test
    void aStoppedMemberLeavesAtOnce() throws Exception {
        JdbcFleetMembers a = joined("a");
        JdbcFleetMembers b = joined("b");
        b.close();

        assertThat(rows()).containsExactly("a");
        await().atMost(Duration.ofSeconds(5))
                .untilAsserted(() -> assertThat(names(a)).containsExactly("a"));
    }

    @Test
    void lastSeenIsTheDatabaseClockAndMovesWithTheHeartbeat() throws Exception {
        JdbcFleetMembers a = joined("a");
        java.time.Instant first = a.live().get(0).lastSeen();

        await().atMost(Duration.ofSeconds(5))
                .untilAsserted(() -> assertThat(a.live().get(0).lastSeen()).isAfter(first));
        try (Connection connection = dataSource.getConnection();
                Statement statement = connection.createStatement();
                ResultSet row = statement.executeQuery(
                        "SELECT now() - last_seen < interval '2 seconds' FROM" + " fleet_members WHERE name = 'a'")) {
            assertThat(row.next()).isTrue();
            assertThat(row.getBoolean(1)).isTrue();
        }
    }

    private List<String> rows() throws Exception {
        List<String> names = new ArrayList<>();
        try (Connection connection = dataSource.getConnection();
                Statement statement = connection.createStatement();
                ResultSet rows = statement.executeQuery("SELECT name FROM fleet_members ORDER BY name")) {
            while (rows.next()) {
                names.add(rows.getString(1));
            }
        }
        return names;
    }
}
