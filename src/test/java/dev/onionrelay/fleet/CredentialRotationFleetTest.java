package dev.onionrelay.fleet;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.onionrelay.support.ApiClient;
import dev.onionrelay.support.ApiOnion;
import dev.onionrelay.support.EchoServer;
import dev.onionrelay.support.Fleet;
import dev.onionrelay.support.LocalServers;
import dev.onionrelay.support.PgCluster;
import dev.onionrelay.support.Scenario;
import dev.onionrelay.support.Traffic;
import java.io.IOException;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;
import tools.jackson.databind.JsonNode;

/**
 * {@code PUT /credentials/{name}} and {@code PUT /relays/{id}} in a fleet of three service processes (a, b, c on 127.0.0.1, .2, .3) on one
 * PostgreSQL: a 64 MiB echo streams through a's depth-2 onion while the exit's identity is rotated through b and then
 * the CA the entry trusts through c; the echo completes intact on the old material, and every instance's exit
 * presents the new certificate to the next handshake within 2 s of the answer, whichever instance took the call. Then
 * the entry is replaced through b while a tunnel streams through a: every instance swaps it in place (the old tunnel
 * finishes intact, new ones show revision 2), and two replacements through a and c at the same moment, both made from
 * revision 2, have one winner: the database's conditional update.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
@Scenario
class CredentialRotationFleetTest {

    /** What the issue asks of a fleet: each instance serves the new serial this soon after the rotation answered. */
    private static final Duration EVERY_INSTANCE_WITHIN = Duration.ofSeconds(2);

    private static final List<String> INSTANCES = List.of("a", "b", "c");

    @TempDir
    static Path dir;

    static PgCluster cluster;
    static Fleet fleet;
    static EchoServer echo;
    static int exitPort;
    static int entryPort;

    @BeforeAll
    static void startFleet() throws Exception {
        cluster = PgCluster.create();
        echo = new EchoServer();
        fleet = new Fleet(cluster, dir, "rotation");
        fleet.start("a", "b", "c");
        ApiClient a = fleet.admin("a");
        ApiOnion.credentials(a, "hop-1");
        exitPort = ApiOnion.created(a.post("/relays", ApiOnion.exit(LocalServers.freePort(), echo.port())));
        entryPort = ApiOnion.created(a.post("/relays", ApiOnion.entry(LocalServers.freePort(), exitPort)));
        String serial = ApiOnion.serial(a, "hop");
        // Every instance opened both relays and has run a handshake, so that what is timed below is the rotation.
        await().atMost(Fleet.PROPAGATION.multipliedBy(3)).ignoreExceptions().untilAsserted(() -> {
            for (String instance : INSTANCES) {
                assertThat(ApiOnion.serials(fleet.bindAddress(instance), exitPort, 2))
                        .containsExactly(serial, serial);
                assertThat(ApiOnion.roundTrip(fleet.bindAddress(instance), entryPort, 64 << 10))
                        .isTrue();
            }
        });
    }

    @AfterAll
    static void stopFleet() throws IOException {
        if (fleet != null) {
            fleet.close();
        }
        if (echo != null) {
            echo.close();
        }
        if (cluster != null) {
            cluster.close();
        }
    }

    @Test
    @Order(1)
    void everyInstanceServesTheRotatedIdentityAndThenTheNewCaWithinTwoSecondsWhileAnOldTunnelStreams()
            throws Exception {
        Map<String, Duration> identitySeen = new ConcurrentHashMap<>();
        Map<String, Duration> caSeen = new ConcurrentHashMap<>();
        Traffic.Echo streamed = Traffic.echoThenClose(entryPort, 64L << 20, 8L << 20, () -> {
            // The exit's identity, rotated through b.
            ApiClient.Response hop = fleet.admin("b")
                    .send("PUT", "/credentials/hop", "{\"generate\":" + ApiOnion.hopRequest("hop-2") + "}");
            long answered = System.nanoTime();
            assertThat(hop.status()).as(hop.toString()).isEqualTo(200);
            assertThat(hop.json().at("/version").asLong()).isEqualTo(2);
            String serial = hop.json().at("/serial").asString();
            onEveryInstanceWithin(answered, identitySeen, address -> assertThat(ApiOnion.serials(address, exitPort, 2))
                    .containsExactly(serial, serial));

            // A new CA for what the entry trusts, and the exit's identity issued by it, both through c.
            ApiClient c = fleet.admin("c");
            ApiClient.Response ca =
                    c.send("PUT", "/credentials/ca", "{\"generate\":{\"ca\":true,\"commonName\":\"onion test CA 2\"}}");
            assertThat(ca.status()).as(ca.toString()).isEqualTo(200);
            ApiClient.Response reissued =
                    c.send("PUT", "/credentials/hop", "{\"generate\":" + ApiOnion.hopRequest("hop-3") + "}");
            long caAnswered = System.nanoTime();
            assertThat(reissued.status()).as(reissued.toString()).isEqualTo(200);
            assertThat(reissued.json().at("/version").asLong()).isEqualTo(3);
            onEveryInstanceWithin(caAnswered, caSeen, address -> {
                List<X509Certificate> presented = ApiOnion.presented(address, exitPort, 2);
                assertThat(presented.get(0).getIssuerX500Principal().getName()).isEqualTo("CN=onion test CA 2");
                // Verified with the new CA by this instance's entry: a new tunnel gets through.
                assertThat(ApiOnion.roundTrip(address, entryPort, 64 << 10)).isTrue();
            });
        });

        assertThat(streamed.intact())
                .as("the 64 MiB echo opened before both rotations")
                .isTrue();
        assertThat(identitySeen).containsOnlyKeys(INSTANCES);
        assertThat(caSeen).containsOnlyKeys(INSTANCES);
        JsonNode view = fleet.admin("a").get("/credentials/hop").json();
        assertThat(view.at("/version").asLong()).as("a reads what c wrote").isEqualTo(3);
        assertThat(view.at("/subject").asString()).isEqualTo("CN=hop-3");
        System.out.printf("new identity served after %s, new CA after %s%n", identitySeen, caSeen);
    }

    @Test
    @Order(2)
    void aRelayReplacedThroughOneInstanceIsFollowedInPlaceByEveryInstanceAndOfTwoAtOnceOneWins() throws Exception {
        Traffic.Echo streamed = Traffic.echoThenClose(entryPort, 16L << 20, 4L << 20, () -> {
            ApiClient.Response replaced = fleet.admin("b").send("PUT", "/relays/entry", entry("2"));
            assertThat(replaced.status()).as(replaced.toString()).isEqualTo(200);
            assertThat(replaced.json().at("/revision").asLong()).isEqualTo(2);
            await().atMost(Fleet.PROPAGATION).untilAsserted(() -> {
                for (String instance : INSTANCES) {
                    JsonNode view = fleet.admin(instance).get("/relays/entry").json();
                    assertThat(view.at("/revision").asLong()).as(instance).isEqualTo(2);
                    assertThat(view.at("/egress/0/name").asString()).isEqualTo("outer-2");
                }
            });
            for (String instance : INSTANCES) {
                assertThat(ApiOnion.roundTrip(fleet.bindAddress(instance), entryPort, 64 << 10))
                        .as("a new tunnel through %s", instance)
                        .isTrue();
            }
            // The tunnel opened before is still open on a, under revision 1: a was not closed and reopened.
            List<Long> onA = fleet.admin("a")
                    .get("/relays/entry/tunnels")
                    .json()
                    .valueStream()
                    .filter(tunnel -> tunnel.at("/instance").asString().equals("a"))
                    .map(tunnel -> tunnel.at("/revision").asLong())
                    .toList();
            assertThat(onA).contains(1L);
        });
        assertThat(streamed.intact()).as("the echo opened under revision 1").isTrue();

        CompletableFuture<ApiClient.Response> throughA =
                CompletableFuture.supplyAsync(() -> fleet.admin("a").send("PUT", "/relays/entry", entry("3a")));
        CompletableFuture<ApiClient.Response> throughC =
                CompletableFuture.supplyAsync(() -> fleet.admin("c").send("PUT", "/relays/entry", entry("3c")));
        // At the same moment both calls read revision 2 and the database takes one (200, 409); on a machine too busy
        // for them to overlap, the second reads revision 3 and both win in turn (PostgresRotationTest forces the
        // overlap at the store). Either way the instances agree on the last replacement taken, and none is lost.
        List<ApiClient.Response> answers = List.of(throughA.get(), throughC.get());
        List<ApiClient.Response> taken =
                answers.stream().filter(answer -> answer.status() == 200).toList();
        assertThat(answers).as("answers").allMatch(answer -> answer.status() == 200 || answer.status() == 409);
        assertThat(taken).isNotEmpty();
        ApiClient.Response last = taken.stream()
                .max(java.util.Comparator.comparingLong(
                        answer -> answer.json().at("/revision").asLong()))
                .orElseThrow();
        long revision = last.json().at("/revision").asLong();
        assertThat(revision).as(answers.toString()).isEqualTo(2 + taken.size());
        String winner = last.json().at("/egress/0/name").asString();
        await().atMost(Fleet.PROPAGATION).untilAsserted(() -> {
            for (String instance : INSTANCES) {
                JsonNode view = fleet.admin(instance).get("/relays/entry").json();
                assertThat(view.at("/revision").asLong()).as(instance).isEqualTo(revision);
                assertThat(view.at("/egress/0/name").asString()).isEqualTo(winner);
            }
        });
        System.out.printf(
                "two replacements at once: %s%n",
                answers.stream().map(ApiClient.Response::status).toList());
    }

    /** The entry as the fixture made it, its layers renamed with {@code suffix}: a new egress layer list. */
    private static String entry(String suffix) {
        return ApiOnion.entry(entryPort, exitPort)
                .replace("\"outer\"", "\"outer-" + suffix + "\"")
                .replace("\"inner\"", "\"inner-" + suffix + "\"");
    }

    /** What an instance's relays must show, given the address they listen on. */
    @FunctionalInterface
    interface Check {
        void on(String address) throws Exception;
    }

    /**
     * Asserts {@code check} on every instance at once (each its own poller, so that one slow handshake does not eat
     * another instance's time) within {@link #EVERY_INSTANCE_WITHIN} of {@code answeredAt}; records when each passed.
     */
    private static void onEveryInstanceWithin(long answeredAt, Map<String, Duration> seen, Check check) {
        List<CompletableFuture<Void>> checks = INSTANCES.stream()
                .map(instance -> CompletableFuture.runAsync(() -> {
                    await().atMost(EVERY_INSTANCE_WITHIN.minusNanos(System.nanoTime() - answeredAt))
                            .pollInterval(Duration.ofMillis(50))
                            .untilAsserted(() -> check.on(fleet.bindAddress(instance)));
                    seen.put(instance, Duration.ofNanos(System.nanoTime() - answeredAt));
                }))
                .toList();
        checks.forEach(CompletableFuture::join);
    }
}
