package dev.onionrelay.relay;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.onionrelay.layer.Initiator;
import dev.onionrelay.layer.LayerStatus;
import dev.onionrelay.layer.Side;
import dev.onionrelay.support.EchoServer;
import dev.onionrelay.support.Layers;
import dev.onionrelay.support.Onions;
import dev.onionrelay.support.Scenario;
import io.netty.channel.Channel;
import io.netty.util.concurrent.Future;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A push on a side whose innermost layer we pop, while the peer's close_notify answer is still on its way, is refused
 * (409 over the API) naming the pending pop, and the tunnel lives on when the answer comes. Pushed, the new layer would
 * sit inside the closing one and the peer's legitimate answer would arrive under an open inner layer: a protocol
 * violation that closed the tunnel every time (issue 22). The entry relay stops reading for a while, so that the exit's
 * pop waits as long as the test needs.
 */
@Scenario
class PushDuringPendingPopTest {

    final List<String> pops = new CopyOnWriteArrayList<>();
    final List<String> violations = new CopyOnWriteArrayList<>();
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

    @Test
    void aPushWhileAPopWaitsForThePeersAnswerIsRefusedAndTheTunnelSurvivesTheAnswer() throws Exception {
        onions = new Onions(new RelayObserver() {
            @Override
            public void layerPopped(Relay relay, Side side, Initiator initiator) {
                pops.add(relay.spec().name() + " " + side.label() + "/" + initiator.label());
            }

            @Override
            public void protocolViolation(Relay relay, Side side, String what) {
                violations.add(what);
            }
        });
        Relay exit = depthTwoExit();
        Relay entry = entryTo(exit);

        try (Socket client = new Socket(InetAddress.getLoopbackAddress(), Onions.port(entry))) {
            client.setSoTimeout(10_000);
            assertThat(echo(client, "before")).isEqualTo("before");
            Tunnel entryTunnel = entry.tunnels().get(0);
            Tunnel exitTunnel = exit.tunnels().get(0);
            Channel entryEgress = entryTunnel.egressChannel();
            // The entry reads nothing for now: the exit's close_notify, and so the answer, wait.
            entryEgress
                    .eventLoop()
                    .submit(() -> entryEgress.config().setAutoRead(false))
                    .get(5, TimeUnit.SECONDS);

            exitTunnel.popLocal(Side.INGRESS).get(5, TimeUnit.SECONDS);
            Future<LayerStatus> push = exitTunnel.push(
                    Side.INGRESS, onions.preparePush(Layers.server("late", "hop"), 2, 1), new PushRules(8, 2));
            assertThat(push.await(5, TimeUnit.SECONDS)).isTrue();
            assertThat(push.cause())
                    .as("the push is refused, naming the pending pop")
                    .isInstanceOf(RelayException.class)
                    .hasMessageContaining("pop of the ingress layer 'inner'")
                    .hasMessageContaining("waits for the peer's close_notify answer");
            assertThat(((RelayException) push.cause()).kind()).isEqualTo(RelayException.Kind.CONFLICT);
            assertThat(exitTunnel.stack(Side.INGRESS).depth())
                    .as("nothing pushed")
                    .isEqualTo(2);

            entryEgress.eventLoop().execute(() -> entryEgress.config().setAutoRead(true));
            await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> assertThat(pops)
                    .containsExactlyInAnyOrder("exit ingress/local", "entry egress/peer"));
            assertThat(echo(client, "after"))
                    .as("the tunnel carries on at depth 1")
                    .isEqualTo("after");
            assertThat(exitTunnel.state()).isEqualTo(TunnelState.OPEN);
            assertThat(exitTunnel.stack(Side.INGRESS).depth()).isEqualTo(1);
            assertThat(violations).as("protocol violations").isEmpty();
        }
    }

    @Test
    void aPushAfterThePopIsDoneGoesOn() throws Exception {
        // The refusal lasts only while the answer is awaited: once the pop is done the side takes a new layer.
        onions = new Onions();
        Relay exit = depthTwoExit();
        Relay entry = entryTo(exit);
        try (Socket client = new Socket(InetAddress.getLoopbackAddress(), Onions.port(entry))) {
            client.setSoTimeout(10_000);
            assertThat(echo(client, "before")).isEqualTo("before");
            Tunnel exitTunnel = exit.tunnels().get(0);
            exitTunnel.popLocal(Side.INGRESS).get(5, TimeUnit.SECONDS);
            await().atMost(Duration.ofSeconds(10))
                    .until(() -> exitTunnel.stack(Side.INGRESS).depth() == 1);
            LayerStatus pushed = pushNow(exitTunnel);
            assertThat(pushed.name()).isEqualTo("late");
        }
    }

    private LayerStatus pushNow(Tunnel tunnel) throws Exception {
        try {
            return tunnel.push(
                            Side.INGRESS, onions.preparePush(Layers.server("late", "hop"), 1, 1), new PushRules(8, 1))
                    .get(5, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            throw new AssertionError("push refused: " + e.getCause().getMessage(), e.getCause());
        }
    }

    private static String echo(Socket client, String text) throws Exception {
        OutputStream out = client.getOutputStream();
        out.write(text.getBytes(StandardCharsets.US_ASCII));
        out.flush();
        InputStream in = client.getInputStream();
        byte[] back = in.readNBytes(text.length());
        return new String(back, StandardCharsets.US_ASCII);
    }

    /** An exit peeling two layers (minimum depth 1, so the inner one can be popped) in front of an echo target. */
    private Relay depthTwoExit() throws Exception {
        onions.pki.ca("ca");
        onions.pki.leaf("hop", "ca");
        target = new EchoServer();
        return onions.relay(
                "exit",
                target.port(),
                List.of(Layers.server("outer", "hop"), Layers.server("inner", "hop")),
                List.of(),
                Onions.options(1, 0));
    }

    /** The entry that wraps the exit's two layers. */
    private Relay entryTo(Relay exit) throws Exception {
        return onions.relay(
                "entry",
                Onions.port(exit),
                List.of(),
                List.of(Layers.client("outer", "ca", "localhost"), Layers.client("inner", "ca", "localhost")),
                Onions.options(0, 1));
    }
}
