package dev.onionrelay.relay;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.entry;
import static org.awaitility.Awaitility.await;

import dev.onionrelay.layer.Side;
import dev.onionrelay.layer.TlsProvider;
import dev.onionrelay.support.AbortingClient;
import dev.onionrelay.support.AbortingClient.Leave;
import dev.onionrelay.support.AbortingClient.Point;
import dev.onionrelay.support.EchoServer;
import dev.onionrelay.support.Layers;
import dev.onionrelay.support.Onions;
import dev.onionrelay.support.Scenario;
import java.net.SocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Clients that walk away from a handshake, closing or resetting TCP at each point of it, are counted once as {@code
 * peer_closed} on the layer whose handshake they abandoned, on both providers. That includes a client that connects
 * and leaves without a byte (a port scan, a TCP health check): it is counted on layer 0, as stunnel logs such a
 * connection as a failed accept.
 *
 * <p>On the inner layer the client talks through an entry that wraps only the outer layer, so the exit peels that
 * layer and waits for the inner handshake; when the client leaves, the entry closes the outer layer (close_notify)
 * under the inner handshake.
 */
@Scenario
class AbandonedHandshakeTest {

    static final Duration PATIENCE = Duration.ofSeconds(10);

    Onions onions;
    EchoServer echo;
    final List<String> observed = new CopyOnWriteArrayList<>();

    static Stream<Arguments> everyPointAndWayOfLeaving() {
        List<Arguments> all = new ArrayList<>();
        for (TlsProvider provider : TlsProvider.values()) {
            for (Point point : Point.values()) {
                for (Leave leave : Leave.values()) {
                    all.add(Arguments.of(provider, point, leave));
                }
            }
        }
        return all.stream();
    }

    @AfterEach
    void tearDown() throws Exception {
        if (onions != null) {
            onions.close();
        }
        if (echo != null) {
            echo.close();
        }
    }

    private void start(TlsProvider provider) throws Exception {
        onions = new Onions(provider, new RelayObserver() {
            @Override
            public void handshakeFailed(Relay relay, Side side, String layer, String reason, SocketAddress peer) {
                observed.add(relay.spec().name() + " " + side.label() + "/" + layer + " " + reason);
            }
        });
        echo = new EchoServer();
        onions.pki.ca("ca");
        onions.pki.leaf("hop", "ca");
    }

    @ParameterizedTest(name = "{0}: {1}, {2}")
    @MethodSource("everyPointAndWayOfLeaving")
    void clientLeavingTheHandshakeIsCountedAsPeerClosedOnLayerZero(TlsProvider provider, Point point, Leave leave)
            throws Exception {
        start(provider);
        Relay relay = onions.relay("relay", echo.port(), List.of(Layers.server("L0", "hop")), List.of());

        AbortingClient.run(Onions.port(relay), point, leave);

        assertCountedOnce(relay, "ingress/L0");
        assertThat(relay.stats().handshakesSucceeded()).isZero();
    }

    @ParameterizedTest(name = "{0}: {1}, {2}")
    @MethodSource("everyPointAndWayOfLeaving")
    void clientLeavingTheInnerHandshakeIsCountedAsPeerClosedOnTheInnerLayer(
            TlsProvider provider, Point point, Leave leave) throws Exception {
        start(provider);
        Relay exit = onions.relay(
                "exit", echo.port(), List.of(Layers.server("L0", "hop"), Layers.server("L1", "hop")), List.of());
        Relay shallow =
                onions.relay("shallow", Onions.port(exit), List.of(), List.of(Layers.client("L0", "ca", "localhost")));

        // The client leaves once the exit has peeled the outer layer: the entry wraps that layer for any connection,
        // so a client that leaves earlier abandons the entry's outer handshake instead (counted on L0).
        AbortingClient.run(Onions.port(shallow), point, leave, () -> await().atMost(PATIENCE)
                .until(() -> exit.stats().handshakesSucceeded() == 1));

        assertCountedOnce(exit, "ingress/L1");
        assertThat(exit.stats().handshakesSucceeded())
                .as("the exit's outer layer")
                .isEqualTo(1);
        assertThat(shallow.stats().handshakeFailures()).isZero();
    }

    private void assertCountedOnce(Relay relay, String layer) {
        String name = relay.spec().name();
        await().atMost(PATIENCE).untilAsserted(() -> {
            assertThat(relay.stats().failuresByReason()).containsExactly(entry("peer_closed", 1L));
            assertThat(relay.stats().failuresByLayer()).containsExactly(entry(layer, 1L));
            RelayStats.HandshakeFailure last = relay.stats().lastFailure();
            assertThat(last).isNotNull();
            assertThat(last.reason()).isEqualTo("peer_closed");
            assertThat(last.alert()).as("no alert names it").isNull();
            assertThat(last.side() + "/" + last.layer()).isEqualTo(layer);
            assertThat(observed).as("what the metrics were told").containsExactly(name + " " + layer + " peer_closed");
            assertThat(relay.stats().activeTunnels()).isZero();
        });
    }
}
