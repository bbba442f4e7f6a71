package dev.onionrelay.relay;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.onionrelay.support.RecordingProxy;
import dev.onionrelay.support.Scenario;
import dev.onionrelay.support.Traffic;
import dev.onionrelay.support.WiredOnion;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Every layer of an entry relay resumes its TLS 1.3 session on the next tunnel to the same peer, so set-up after the
 * first tunnel skips the certificate exchange on each layer (about half of a handshake's CPU).
 *
 * <pre>
 * client -> entry [egress L0, L1] -> (wire A) -> hop0 [ingress L0] -> (wire B) -> hop1 [ingress L1] -> target
 * </pre>
 *
 * A server accepts a resumption by putting the pre_shared_key extension in its ServerHello, which TLS 1.3 still sends
 * in the clear: wire A shows L0's ServerHellos, wire B, L0's plaintext, shows L1's.
 */
@Scenario
class SessionResumptionTest {

    static final int HANDSHAKE = 22;
    static final int SERVER_HELLO = 2;
    static final int PRE_SHARED_KEY = 41;

    WiredOnion onion;

    @BeforeEach
    void setUp() throws Exception {
        onion = new WiredOnion();
    }

    @AfterEach
    void tearDown() throws Exception {
        onion.close();
    }

    @Test
    void everyLayerResumesItsSessionOnTheNextTunnel() throws Exception {
        for (int tunnel = 1; tunnel <= 3; tunnel++) {
            assertThat(Traffic.echoThenClose(onion.entryPort(), 4096).intact()).isTrue();
            int finished = tunnel;
            // One tunnel after the other, so each wire's recording is the connections' records in order.
            await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> {
                assertThat(onion.wireA.finishedConnections()).isEqualTo(finished);
                assertThat(onion.wireB.finishedConnections()).isEqualTo(finished);
            });
        }

        assertThat(serverHellosResuming(onion.wireA.downstream())).as("L0").containsExactly(false, true, true);
        assertThat(serverHellosResuming(onion.wireB.downstream())).as("L1").containsExactly(false, true, true);
    }

    /**
     * Tunnels open at the same time still resume: each needs a ticket of its own (a TLS 1.3 ticket is used once), so a
     * layer must keep as many as it has connections open to a peer, not one per peer. Each round holds all its tunnels
     * open together (a barrier midway through their echoes), so every round has exactly {@code concurrency} of them
     * whatever the machine's load.
     */
    @Test
    void layersResumeWhenTunnelsAreSetUpConcurrently() throws Exception {
        int concurrency = 8;
        ExecutorService clients = Executors.newFixedThreadPool(concurrency);
        try {
            for (int round = 1; round <= 3; round++) {
                CyclicBarrier allOpen = new CyclicBarrier(concurrency);
                List<Future<Traffic.Echo>> echoes = new ArrayList<>();
                for (int i = 0; i < concurrency; i++) {
                    echoes.add(clients.submit(
                            () -> Traffic.echoThenClose(onion.entryPort(), 4096, 1024, () -> awaitAll(allOpen))));
                }
                for (Future<Traffic.Echo> echo : echoes) {
                    assertThat(echo.get(30, TimeUnit.SECONDS).intact()).isTrue();
                }
                int finished = round * concurrency;
                await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> {
                    assertThat(onion.wireA.finishedConnections()).isEqualTo(finished);
                    assertThat(onion.wireB.finishedConnections()).isEqualTo(finished);
                    assertThat(onion.entry.stats().activeTunnels()).isZero();
                });
            }
        } finally {
            clients.shutdownNow();
        }

        // The first round has nothing to resume; every later handshake finds a ticket of an earlier round.
        for (RecordingProxy wire : List.of(onion.wireA, onion.wireB)) {
            List<byte[]> connections = wire.downstreamByConnection();
            assertThat(connections).hasSize(3 * concurrency);
            List<Boolean> later = new ArrayList<>();
            for (byte[] connection : connections.subList(concurrency, connections.size())) {
                later.addAll(serverHellosResuming(connection));
            }
            assertThat(later)
                    .as(wire == onion.wireA ? "L0" : "L1")
                    .hasSize(2 * concurrency)
                    .containsOnly(true);
        }
    }

    private static void awaitAll(CyclicBarrier barrier) {
        try {
            barrier.await(20, TimeUnit.SECONDS);
        } catch (Exception e) {
            throw new IllegalStateException("the round's tunnels were not all open together", e);
        }
    }

    /** For each ServerHello in a server's recorded output, in order: does it accept a pre-shared key? */
    private static List<Boolean> serverHellosResuming(byte[] stream) {
        List<Boolean> resuming = new ArrayList<>();
        int offset = 0;
        while (offset + 5 <= stream.length) {
            int type = stream[offset] & 0xff;
            int length = u16(stream, offset + 3);
            int body = offset + 5;
            if (type == HANDSHAKE && (stream[body] & 0xff) == SERVER_HELLO) {
                resuming.add(hasExtension(stream, body + 4, PRE_SHARED_KEY));
            }
            offset = body + length;
        }
        return resuming;
    }

    /** Walks a ServerHello body (RFC 8446 section 4.1.3) to its extensions. */
    private static boolean hasExtension(byte[] b, int serverHello, int wanted) {
        int at = serverHello + 2 + 32; // legacy_version, random
        at += 1 + (b[at] & 0xff); // legacy_session_id_echo
        at += 2 + 1; // cipher_suite, legacy_compression_method
        int end = at + 2 + u16(b, at);
        for (at += 2; at + 4 <= end; at += 4 + u16(b, at + 2)) {
            if (u16(b, at) == wanted) {
                return true;
            }
        }
        return false;
    }

    private static int u16(byte[] b, int at) {
        return (b[at] & 0xff) << 8 | b[at + 1] & 0xff;
    }
}
