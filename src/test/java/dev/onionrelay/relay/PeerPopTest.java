package dev.onionrelay.relay;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.onionrelay.credential.PemCodec;
import dev.onionrelay.layer.Initiator;
import dev.onionrelay.layer.Side;
import dev.onionrelay.observe.OnionMetrics;
import dev.onionrelay.registry.RelayRegistry;
import dev.onionrelay.support.EchoServer;
import dev.onionrelay.support.Layers;
import dev.onionrelay.support.Onions;
import dev.onionrelay.support.PythonPeer;
import dev.onionrelay.support.Scenario;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.springframework.beans.factory.support.StaticListableBeanFactory;

/**
 * Peer pops and the minimum depth against an independent peer (Python's ssl over MemoryBIO): a close_notify on the innermost
 * layer pops it while TCP stays open, and the bytes in the same TCP write continue one layer out; at the minimum
 * depth the same close_notify ends that direction instead, and what follows it is not data.
 */
@Scenario
class PeerPopTest {

    final List<String> pops = new CopyOnWriteArrayList<>();
    final List<String> violations = new CopyOnWriteArrayList<>();
    final SimpleMeterRegistry meters = new SimpleMeterRegistry();
    Onions onions;
    EchoServer target;
    Path caFile;

    @BeforeEach
    void setUp(@TempDir Path dir) throws Exception {
        RelayObserver recording = new RelayObserver() {
            @Override
            public void layerPopped(Relay relay, Side side, Initiator initiator) {
                pops.add(side.label() + "/" + initiator.label());
            }

            @Override
            public void protocolViolation(Relay relay, Side side, String what) {
                violations.add(side.label() + ": " + what);
            }
        };
        OnionMetrics metrics =
                new OnionMetrics(meters, new StaticListableBeanFactory().getBeanProvider(RelayRegistry.class));
        onions = new Onions(CompositeRelayObserver.of(List.of(recording, metrics)));
        target = new EchoServer(true);
        onions.pki.ca("ca");
        onions.pki.leaf("hop", "ca");
        caFile = dir.resolve("ca.pem");
        Files.writeString(
                caFile, PemCodec.certificatesToPem(onions.pki.get("ca").chain()));
    }

    @AfterEach
    void tearDown() throws Exception {
        onions.close();
        target.close();
    }

    /** An exit relay peeling two layers, "outer" and "inner", in front of the recording target. */
    private Relay exit(int minIngressDepth) throws Exception {
        return onions.relay(
                "exit",
                target.port(),
                List.of(Layers.server("outer", "hop"), Layers.server("inner", "hop")),
                List.of(),
                Onions.options(minIngressDepth, 0));
    }

    private PythonPeer.Result popPeer(Relay relay, String... mode) throws Exception {
        List<String> args =
                new ArrayList<>(List.of(Integer.toString(Onions.port(relay)), caFile.toString(), "localhost"));
        args.addAll(List.of(mode));
        return PythonPeer.run(Duration.ofSeconds(30), "pop_peer.py", args.toArray(String[]::new));
    }

    @Test
    void peerPopsInnermostLayerAndBytesInTheSameSegmentReachTheTargetThenCloseNotifyAtMinimumDepthEndsTheDirection()
            throws Exception {
        Relay relay = exit(1);

        PythonPeer.Result peer = popPeer(relay);

        assertThat(peer.lines()).as(peer.toString()).contains("DEPTH2 OK", "DEPTH1 OK");
        assertThat(peer.exitCode()).as(peer.toString()).isZero();
        assertThat(pops).containsExactly("ingress/peer");
        assertThat(relay.stats().totalTunnels())
                .as("one TCP connection throughout")
                .isEqualTo(1);
        await().atMost(Duration.ofSeconds(5)).until(() -> relay.stats().activeTunnels() == 0);
        assertThat(new String(target.received(), StandardCharsets.US_ASCII))
                .as("the bytes after the pop arrived; the bytes after the final close_notify did not")
                .isEqualTo("beforeafter-pop");
        assertThat(relay.stats().handshakeFailures()).isZero();
    }

    @Test
    void closeNotifyOnALayerThatIsNotInnermostClosesTheTunnel() throws Exception {
        Relay relay = exit(0);

        PythonPeer.Result peer = popPeer(relay, "outer");

        assertThat(peer.lines()).as(peer.toString()).contains("DEPTH2 OK");
        assertThat(peer.lines()).as(peer.toString()).anyMatch(l -> l.startsWith("OUTER-CLOSED"));
        await().atMost(Duration.ofSeconds(5)).until(() -> relay.stats().activeTunnels() == 0);
        assertThat(pops)
                .as("nothing was popped: the stack rule was broken, the tunnel closed")
                .isEmpty();
        assertThat(new String(target.received(), StandardCharsets.US_ASCII)).isEqualTo("before");
    }

    @Test
    void aProtocolViolationIsReportedOnceWithWhatThePeerDidAndCountedPerSide() throws Exception {
        Relay relay = exit(0);

        popPeer(relay, "outer");

        await().atMost(Duration.ofSeconds(5)).until(() -> relay.stats().activeTunnels() == 0);
        assertThat(violations)
                .singleElement()
                .asString()
                .startsWith("ingress: close_notify on ingress layer 'outer' which is not innermost");
        assertThat(meters.get("onion.protocol.violations")
                        .tags("relay", "exit", "side", "ingress")
                        .counter()
                        .count())
                .isEqualTo(1.0);
    }
}
