package dev.onionrelay.relay;

import static org.assertj.core.api.Assertions.assertThat;

import dev.onionrelay.layer.LayerSpec;
import dev.onionrelay.support.EchoServer;
import dev.onionrelay.support.Layers;
import dev.onionrelay.support.Onions;
import dev.onionrelay.support.Scenario;
import dev.onionrelay.support.Traffic;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Bytes go through onions of depth 1 to 4 unchanged, both directions, over real loopback sockets. */
@Scenario
class NestedRelayTest {

    static final long SIXTY_FOUR_MIB = 64L << 20;

    Onions onions;
    EchoServer echo;

    @BeforeEach
    void setUp() throws Exception {
        onions = new Onions();
        echo = new EchoServer();
        onions.pki.ca("ca");
        for (int i = 0; i < 4; i++) {
            onions.pki.leaf("hop" + i, "ca");
        }
    }

    @AfterEach
    void tearDown() throws Exception {
        onions.close();
        echo.close();
    }

    private static List<LayerSpec> clientLayers(int depth) {
        List<LayerSpec> layers = new ArrayList<>();
        for (int i = 0; i < depth; i++) {
            layers.add(Layers.client("L" + i, "ca", "localhost"));
        }
        return layers;
    }

    @ParameterizedTest(name = "depth {0}")
    @ValueSource(ints = {1, 2, 3, 4})
    void entryWrappingNLayersAndExitPeelingNCarry64MiBBothWays(int depth) throws Exception {
        List<LayerSpec> serverLayers = new ArrayList<>();
        for (int i = 0; i < depth; i++) {
            serverLayers.add(Layers.server("L" + i, "hop" + i));
        }
        Relay exit = onions.relay("exit", echo.port(), serverLayers, List.of());
        Relay entry = onions.relay("entry", Onions.port(exit), List.of(), clientLayers(depth));

        Traffic.Echo result = Traffic.echo(Onions.port(entry), SIXTY_FOUR_MIB);

        assertThat(result.received()).isEqualTo(SIXTY_FOUR_MIB);
        assertThat(result.receivedSha256()).isEqualTo(result.sentSha256());
        assertThat(entry.stats().bytesIn()).isEqualTo(SIXTY_FOUR_MIB);
        assertThat(exit.stats().bytesOut()).isEqualTo(SIXTY_FOUR_MIB);
    }

    @ParameterizedTest(name = "depth {0}")
    @ValueSource(ints = {1, 2, 3, 4})
    void chainOfHopsEachPeelingOneLayerCarries64MiBBothWays(int depth) throws Exception {
        // Build from the far end: hop i peels layer i and forwards the rest to hop i+1.
        int next = echo.port();
        List<Relay> hops = new ArrayList<>();
        for (int i = depth - 1; i >= 0; i--) {
            Relay hop = onions.relay("hop" + i, next, List.of(Layers.server("L" + i, "hop" + i)), List.of());
            hops.add(0, hop);
            next = Onions.port(hop);
        }
        Relay entry = onions.relay("entry", next, List.of(), clientLayers(depth));

        Traffic.Echo result = Traffic.echo(Onions.port(entry), SIXTY_FOUR_MIB);

        assertThat(result.intact())
                .as("echo through %d hops: %s", depth, result)
                .isTrue();
        for (Relay hop : hops) {
            assertThat(hop.stats().handshakeFailures()).isZero();
            assertThat(hop.stats().totalTunnels()).isEqualTo(1);
        }
    }
}
