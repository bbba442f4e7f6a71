package dev.onionrelay.relay;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import dev.onionrelay.layer.Initiator;
import dev.onionrelay.layer.Side;
import dev.onionrelay.support.EchoTarget;
import dev.onionrelay.support.Layers;
import dev.onionrelay.support.Onions;
import dev.onionrelay.support.Scenario;
import dev.onionrelay.support.Traffic;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * A pop under full-speed load completes and the tunnel keeps moving, whatever the target's read pattern. The exit
 * relay pops its innermost ingress layer at a third of a 64 MiB echo: while it waits for the entry's close_notify
 * answer, the bytes it writes towards the entry are held and count against the channel, so it stops reading the
 * target; a target that stops reading while its own writes are blocked (socat, a thread doing recv then sendall)
 * then stops the exit's writes to it, and the exit must still read the entry's answer or nothing ever moves again.
 * Every byte must come back in order within 30 s and both tunnels end when the client leaves.
 *
 * <p>{@code -Dpop.rounds=N} runs every case N times (default: 3 for the exit's pop in front of socat and asyncio, 1
 * for the others): {@code ./mvnw -o test -Dtest=PopUnderLoadLivenessTest -Dpop.rounds=50} is the loop of issue 22.
 */
@Scenario
class PopUnderLoadLivenessTest {

    static final long BYTES = 64L * 1024 * 1024;

    /** Which relay pops its side of the link between the two relays. */
    enum Popper {
        EXIT_INGRESS,
        ENTRY_EGRESS
    }

    static Stream<Arguments> cases() {
        String asked = System.getProperty("pop.rounds");
        int rounds = asked == null || asked.isBlank() ? 0 : Integer.parseInt(asked.trim());
        return Stream.of(
                        Arguments.of(EchoTarget.Kind.SOCAT, Popper.EXIT_INGRESS, rounds > 0 ? rounds : 3),
                        Arguments.of(EchoTarget.Kind.PYTHON_ASYNCIO, Popper.EXIT_INGRESS, rounds > 0 ? rounds : 3),
                        Arguments.of(EchoTarget.Kind.PYTHON_THREADS, Popper.EXIT_INGRESS, rounds > 0 ? rounds : 1),
                        Arguments.of(EchoTarget.Kind.SOCAT, Popper.ENTRY_EGRESS, rounds > 0 ? rounds : 1))
                .flatMap(c -> IntStream.rangeClosed(1, (int) c.get()[2])
                        .mapToObj(round -> Arguments.of(c.get()[0], c.get()[1], round)));
    }

    final List<String> pops = new CopyOnWriteArrayList<>();
    Onions onions;
    EchoTarget target;

    @AfterEach
    void tearDown() {
        if (onions != null) {
            onions.close();
        }
        if (target != null) {
            target.close();
        }
    }

    /** What a stalled tunnel looks like: each channel's reading and writing state and each stack's layers. */
    private static String describe(Relay relay) {
        return relay.tunnels().stream()
                .map(tunnel -> tunnel.state() + " ingress " + describe(tunnel.ingressChannel()) + " "
                        + tunnel.stack(Side.INGRESS).status() + " egress " + describe(tunnel.egressChannel()) + " "
                        + (tunnel.stack(Side.EGRESS) != null
                                ? tunnel.stack(Side.EGRESS).status()
                                : "none"))
                .toList()
                .toString();
    }

    /** The kernel's view (queues both ways) of the TCP sockets on the tunnel's ports, when ss is there. */
    private static String sockets(int... ports) {
        try {
            Process ss =
                    new ProcessBuilder("ss", "-tnp").redirectErrorStream(true).start();
            String all = new String(ss.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
            return all.lines()
                    .filter(line -> java.util.Arrays.stream(ports).anyMatch(port -> line.contains(":" + port + " ")))
                    .collect(java.util.stream.Collectors.joining("\n"));
        } catch (java.io.IOException noSs) {
            return "(ss not available: " + noSs.getMessage() + ")";
        }
    }

    private static String describe(io.netty.channel.Channel channel) {
        if (channel == null) {
            return "[none]";
        }
        return "[active=" + channel.isActive() + " autoRead=" + channel.config().isAutoRead() + " writable="
                + channel.isWritable() + " queued=" + channel.bytesBeforeWritable() + "]";
    }

    @ParameterizedTest(name = "{1} in front of {0}, round {2}")
    @MethodSource("cases")
    void popUnderFullLoadCompletesEveryByteAndTheTunnelEnds(EchoTarget.Kind kind, Popper popper, int round)
            throws Exception {
        target = EchoTarget.start(kind);
        onions = new Onions(new RelayObserver() {
            @Override
            public void layerPopped(Relay relay, Side side, Initiator initiator) {
                pops.add(relay.spec().name() + " " + side.label() + "/" + initiator.label());
            }
        });
        onions.pki.ca("ca");
        onions.pki.leaf("hop", "ca");
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
                List.of(Layers.client("outer", "ca", "localhost"), Layers.client("inner", "ca", "localhost")),
                Onions.options(0, 1));
        Relay popping = popper == Popper.ENTRY_EGRESS ? entry : exit;
        Side side = popper == Popper.ENTRY_EGRESS ? Side.EGRESS : Side.INGRESS;
        AtomicReference<Throwable> popFailure = new AtomicReference<>();

        Traffic.Echo echo = assertTimeoutPreemptively(
                Duration.ofSeconds(30),
                () -> {
                    try {
                        return Traffic.echoThenClose(Onions.port(entry), BYTES, BYTES / 3, () -> popping.tunnels()
                                .get(0)
                                .popLocal(side)
                                .addListener(f -> popFailure.set(f.cause())));
                    } catch (java.net.SocketTimeoutException stalled) {
                        throw new AssertionError(
                                "the echo stalled; pops " + pops + "; entry " + describe(entry) + "; exit "
                                        + describe(exit) + "; sockets\n"
                                        + sockets(Onions.port(entry), Onions.port(exit), target.port()),
                                stalled);
                    }
                },
                "the 64 MiB echo with a pop at a third did not finish within 30 s");

        assertThat(popFailure.get()).as("the pop was accepted").isNull();
        assertThat(echo.received()).as("bytes back").isEqualTo(BYTES);
        assertThat(echo.receivedSha256())
                .as("what came back is what was sent, in order")
                .isEqualTo(echo.sentSha256());
        String local = popping.spec().name() + " " + side.label();
        String peer = popper == Popper.ENTRY_EGRESS ? "exit ingress" : "entry egress";
        await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> assertThat(pops)
                .as("both ends popped")
                .containsExactlyInAnyOrder(local + "/local", peer + "/peer"));
        await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> assertThat(
                        entry.tunnels().size() + exit.tunnels().size())
                .as("tunnels still open after the client left")
                .isZero());
    }
}
