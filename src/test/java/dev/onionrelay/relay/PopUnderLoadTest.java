package dev.onionrelay.relay;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.onionrelay.layer.Initiator;
import dev.onionrelay.layer.Side;
import dev.onionrelay.layer.TlsProvider;
import dev.onionrelay.support.EchoServer;
import dev.onionrelay.support.Layers;
import dev.onionrelay.support.Onions;
import dev.onionrelay.support.Scenario;
import dev.onionrelay.support.Traffic;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * A pop while bytes stream at full speed both ways loses nothing. An entry relay wraps two egress layers, an exit
 * relay peels them in front of an echo target; 64 MiB of random bytes go through and come back, and at a third of the
 * echo one relay pops its innermost layer on its side of the link between them (the other relay sees the peer's
 * close_notify and pops too), under both TLS providers and with TLS 1.3 and 1.2 between the relays. Writes that were queued for the popped layer must leave through it before its
 * close_notify or through the layer outside after it: in order, none lost, none twice, checked by SHA-256.
 */
@Scenario
class PopUnderLoadTest {

    static final long BYTES = 64L * 1024 * 1024;

    /** Which relay pops its side of the link between the two relays from its end (through the Java API). */
    enum Popper {
        ENTRY_EGRESS,
        EXIT_INGRESS
    }

    /** Every popper under each provider and protocol: the peer's pop is the other relay's answer. */
    static Stream<Arguments> cases() {
        return Stream.of(TlsProvider.JDK, TlsProvider.OPENSSL)
                .flatMap(provider -> Stream.of("TLSv1.3", "TLSv1.2").flatMap(protocol -> Stream.of(Popper.values())
                        .map(popper -> Arguments.of(popper, provider, protocol))));
    }

    final List<String> pops = new CopyOnWriteArrayList<>();
    Onions onions;
    EchoServer target;

    @AfterEach
    void tearDown() throws Exception {
        if (onions != null) {
            onions.close();
        }
        if (target != null) {
            target.close();
        }
    }

    @ParameterizedTest(name = "{0} on {1} with {2}")
    @MethodSource("cases")
    void popOfTheInnermostLayerWhileBothDirectionsStreamLosesNoByte(
            Popper popper, TlsProvider provider, String protocol) throws Exception {
        onions = new Onions(provider, new RelayObserver() {
            @Override
            public void layerPopped(Relay relay, Side side, Initiator initiator) {
                pops.add(relay.spec().name() + " " + side.label() + "/" + initiator.label());
            }
        });
        onions.pki.ca("ca");
        onions.pki.leaf("hop", "ca");
        target = new EchoServer();
        Relay exit = onions.relay(
                "exit",
                target.port(),
                List.of(Layers.server("outer", "hop"), Layers.server("inner", "hop")),
                List.of(),
                Onions.options(1, 0));
        Relay entry = onions.relay(
                "entry",
                Onions.port(exit),
                List.of(),
                List.of(
                        Layers.withProtocols(Layers.client("outer", "ca", "localhost"), List.of(protocol)),
                        Layers.withProtocols(Layers.client("inner", "ca", "localhost"), List.of(protocol))),
                Onions.options(0, 1));
        Relay popping = popper == Popper.ENTRY_EGRESS ? entry : exit;
        Side side = popper == Popper.ENTRY_EGRESS ? Side.EGRESS : Side.INGRESS;
        AtomicReference<Throwable> popFailure = new AtomicReference<>();
        List<Tunnel> tunnels = new CopyOnWriteArrayList<>();

        Traffic.Echo echo = Traffic.echoThenClose(Onions.port(entry), BYTES, BYTES / 3, () -> {
            tunnels.add(entry.tunnels().get(0));
            tunnels.add(exit.tunnels().get(0));
            popping.tunnels().get(0).popLocal(side).addListener(f -> popFailure.set(f.cause()));
        });

        assertThat(popFailure.get()).as("the pop was accepted").isNull();
        assertThat(echo.received()).as("bytes back").isEqualTo(BYTES);
        assertThat(echo.receivedSha256())
                .as("what came back is what was sent, in order")
                .isEqualTo(echo.sentSha256());
        String local = popping.spec().name() + " " + side.label();
        String peer = popper == Popper.ENTRY_EGRESS ? "exit ingress" : "entry egress";
        await().atMost(Duration.ofSeconds(10))
                .untilAsserted(() -> assertThat(pops).containsExactlyInAnyOrder(local + "/local", peer + "/peer"));
        assertThat(tunnels.get(0).stack(Side.EGRESS).depth())
                .as("entry egress depth")
                .isEqualTo(1);
        assertThat(tunnels.get(1).stack(Side.INGRESS).depth())
                .as("exit ingress depth")
                .isEqualTo(1);
        assertThat(entry.stats().handshakeFailures() + exit.stats().handshakeFailures())
                .isZero();
    }
}
