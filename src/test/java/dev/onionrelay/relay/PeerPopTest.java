package dev.onionrelay.relay;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.onionrelay.credential.PemCodec;
import dev.onionrelay.layer.Initiator;
import dev.onionrelay.layer.Side;
import dev.onionrelay.support.EchoServer;
import dev.onionrelay.support.Layers;
import dev.onionrelay.support.Onions;
import dev.onionrelay.support.PythonPeer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Stack rules 2 and 3 against an independent peer (Python's ssl over MemoryBIO): a close_notify on the innermost
 * layer pops it while TCP stays open, and the bytes in the same TCP write continue one layer out; at the minimum
 * depth the same close_notify ends that direction instead, and what follows it is not data.
 */
class PeerPopTest {

    @Test
    void peerPopsInnermostLayerAndBytesInTheSameSegmentReachTheTargetThenCloseNotifyAtMinimumDepthEndsTheDirection(
            @TempDir Path dir) throws Exception {
        List<String> pops = new CopyOnWriteArrayList<>();
        RelayObserver observer = new RelayObserver() {
            @Override
            public void layerPopped(Relay relay, Side side, Initiator initiator) {
                pops.add(side.label() + "/" + initiator.label());
            }
        };
        try (Onions onions = new Onions(observer);
                EchoServer target = new EchoServer(true)) {
            onions.pki.ca("ca");
            onions.pki.leaf("hop", "ca");
            Path caFile = dir.resolve("ca.pem");
            Files.writeString(
                    caFile, PemCodec.certificatesToPem(onions.pki.get("ca").chain()));
            Relay relay = onions.relay(
                    "exit",
                    target.port(),
                    List.of(Layers.server("outer", "hop"), Layers.server("inner", "hop")),
                    List.of(),
                    Onions.options(1, 0));

            PythonPeer.Result peer = PythonPeer.run(
                    Duration.ofSeconds(30),
                    "pop_peer.py",
                    Integer.toString(Onions.port(relay)),
                    caFile.toString(),
                    "localhost");

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
    }

    @Test
    void closeNotifyOnALayerThatIsNotInnermostClosesTheTunnel(@TempDir Path dir) throws Exception {
        List<String> pops = new CopyOnWriteArrayList<>();
        RelayObserver observer = new RelayObserver() {
            @Override
            public void layerPopped(Relay relay, Side side, Initiator initiator) {
                pops.add(side.label() + "/" + initiator.label());
            }
        };
        try (Onions onions = new Onions(observer);
                EchoServer target = new EchoServer(true)) {
            onions.pki.ca("ca");
            onions.pki.leaf("hop", "ca");
            Path caFile = dir.resolve("ca.pem");
            Files.writeString(
                    caFile, PemCodec.certificatesToPem(onions.pki.get("ca").chain()));
            Relay relay = onions.relay(
                    "exit",
                    target.port(),
                    List.of(Layers.server("outer", "hop"), Layers.server("inner", "hop")),
                    List.of(),
                    Onions.options(0, 0));

            PythonPeer.Result peer = PythonPeer.run(
                    Duration.ofSeconds(30),
                    "pop_peer.py",
                    Integer.toString(Onions.port(relay)),
                    caFile.toString(),
                    "localhost",
                    "outer");

            assertThat(peer.lines()).as(peer.toString()).contains("DEPTH2 OK");
            assertThat(peer.lines()).as(peer.toString()).anyMatch(l -> l.startsWith("OUTER-CLOSED"));
            await().atMost(Duration.ofSeconds(5)).until(() -> relay.stats().activeTunnels() == 0);
            assertThat(pops)
                    .as("nothing was popped: the stack rule was broken, the tunnel closed")
                    .isEmpty();
            assertThat(new String(target.received(), StandardCharsets.US_ASCII)).isEqualTo("before");
        }
    }
}
