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
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * A layer whose handshake can never start (its settings name a protocol no engine knows) still counts every
 * connection it drops, so that a misconfigured relay shows in the failure metrics instead of failing in silence.
 */
@Scenario
class UnstartableLayerTest {

    static final Duration PATIENCE = Duration.ofSeconds(10);

    Onions onions;
    EchoServer echo;
    final List<String> observed = new CopyOnWriteArrayList<>();

    @AfterEach
    void tearDown() throws Exception {
        onions.close();
        echo.close();
    }

    @ParameterizedTest
    @EnumSource(TlsProvider.class)
    void everyConnectionThroughALayerThatCannotStartIsCounted(TlsProvider provider) throws Exception {
        onions = new Onions(provider, new RelayObserver() {
            @Override
            public void handshakeFailed(Relay relay, Side side, String layer, String reason, SocketAddress peer) {
                observed.add(relay.spec().name() + " " + side.label() + "/" + layer + " " + reason);
            }
        });
        echo = new EchoServer();
        onions.pki.ca("ca");
        onions.pki.leaf("hop", "ca");
        Relay relay = onions.relay(
                "relay",
                echo.port(),
                List.of(Layers.server("L0", "hop"), Layers.withProtocols(Layers.server("L1", "hop"), List.of("TLSv9"))),
                List.of());
        Relay entry = onions.relay(
                "entry",
                Onions.port(relay),
                List.of(),
                List.of(Layers.client("L0", "ca", "localhost"), Layers.client("L1", "ca", "localhost")));

        for (int connection = 1; connection <= 2; connection++) {
            int expected = connection;
            AbortingClient.run(Onions.port(entry), Point.BEFORE_ANY_BYTE, Leave.CLOSE);
            await().atMost(PATIENCE).untilAsserted(() -> {
                assertThat(relay.stats().failuresByLayer()).containsExactly(entry("ingress/L1", (long) expected));
                assertThat(relay.stats().failuresByReason()).containsExactly(entry("other", (long) expected));
                assertThat(relay.stats().activeTunnels()).isZero();
            });
        }
        // The entry sees its next hop hang up under its inner handshake.
        await().atMost(PATIENCE).untilAsserted(() -> assertThat(observed)
                .containsExactlyInAnyOrder(
                        "relay ingress/L1 other",
                        "relay ingress/L1 other",
                        "entry egress/L1 peer_closed",
                        "entry egress/L1 peer_closed"));
    }
}
