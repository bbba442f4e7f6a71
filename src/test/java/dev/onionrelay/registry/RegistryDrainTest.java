package dev.onionrelay.registry;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.onionrelay.credential.CredentialStore;
import dev.onionrelay.credential.StoreKeyMaterial;
import dev.onionrelay.layer.TlsContexts;
import dev.onionrelay.layer.TlsProvider;
import dev.onionrelay.relay.Endpoint;
import dev.onionrelay.relay.OnionEngine;
import dev.onionrelay.relay.Relay;
import dev.onionrelay.relay.RelayException;
import dev.onionrelay.relay.RelayObserver;
import dev.onionrelay.relay.RelaySpec;
import dev.onionrelay.relay.RelayState;
import dev.onionrelay.relay.Transport;
import dev.onionrelay.relay.target.TargetSpec;
import dev.onionrelay.support.EchoServer;
import dev.onionrelay.support.Onions;
import dev.onionrelay.support.Scenario;
import java.io.IOException;
import java.net.ConnectException;
import java.net.InetAddress;
import java.net.Socket;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * {@link RelayRegistry#drain} without Spring, on loopback: the listener closes at once while an open tunnel keeps
 * carrying bytes; no relay is created or opened from a store sync while it runs; a tunnel that ends lets it finish
 * early, one that outlives the timeout is closed at it.
 */
@Scenario
class RegistryDrainTest {

    private final EchoServer echo;
    private final RelayRegistry registry = new RelayRegistry(
            new OnionEngine(Transport.preferred(), 1, TlsProvider.JDK, RelayObserver.NONE),
            new TlsContexts(new StoreKeyMaterial(new CredentialStore(null)), TlsProvider.JDK),
            RelayStore.NONE,
            new RelayPolicy(
                    List.of("loopback"),
                    List.of("0", "1024-65535"),
                    List.of("loopback"),
                    List.of("1-65535"),
                    RelayPolicy.DEFAULT_DENIED_TARGETS,
                    false),
            RelayLimits.DEFAULTS);

    RegistryDrainTest() throws IOException {
        echo = new EchoServer();
    }

    @AfterEach
    void close() throws IOException {
        registry.close();
        echo.close();
    }

    @Test
    void theListenerClosesAtOnceWhileAnOpenTunnelRunsOnUntilItEnds() throws Exception {
        Relay relay = registry.create(plain("plain"));
        int port = Onions.port(relay);
        try (Socket open = connect(port)) {
            assertEchoes(open, 'a');
            CompletableFuture<Drain.Outcome> drain =
                    CompletableFuture.supplyAsync(() -> registry.drain(Duration.ofSeconds(20)));

            await().atMost(Duration.ofSeconds(5)).until(() -> relay.state() == RelayState.STOPPED);
            assertThat(registry.draining()).isTrue();
            assertThatThrownBy(() -> connect(port)).isInstanceOf(ConnectException.class);
            assertEchoes(open, 'b');
            assertThat(drain).isNotDone();
            assertThatThrownBy(() -> registry.create(plain("late")))
                    .isInstanceOfSatisfying(
                            RelayException.class, e -> assertThat(e.kind()).isEqualTo(RelayException.Kind.UNAVAILABLE));
            assertThat(registry.reconcile()).isSameAs(StoreSync.NOTHING);

            open.close();
            Drain.Outcome outcome = drain.get();
            assertThat(outcome.openAtStart()).isEqualTo(1);
            assertThat(outcome.closedAtTimeout()).isZero();
            assertThat(outcome.took()).isLessThan(Duration.ofSeconds(20));
        }
    }

    @Test
    void aTunnelThatOutlivesTheTimeoutIsClosedAtIt() throws Exception {
        Relay relay = registry.create(plain("plain"));
        try (Socket open = connect(Onions.port(relay))) {
            assertEchoes(open, 'a');
            Drain.Outcome outcome = registry.drain(Duration.ofMillis(300));
            assertThat(outcome.openAtStart()).isEqualTo(1);
            assertThat(outcome.closedAtTimeout()).isEqualTo(1);
            assertThat(outcome.took()).isGreaterThanOrEqualTo(Duration.ofMillis(300));
            open.setSoTimeout(5000);
            assertThat(readOrEnd(open)).as("closed by the drain").isEqualTo(-1);
        }
    }

    /** A relay with no layers in front of the echo server. */
    private RelaySpec plain(String name) {
        return new RelaySpec(
                name,
                new Endpoint("127.0.0.1", 0),
                TargetSpec.fixed(new Endpoint("127.0.0.1", echo.port())),
                List.of(),
                List.of(),
                Onions.options(0, 0));
    }

    private static Socket connect(int port) throws IOException {
        Socket socket = new Socket(InetAddress.getLoopbackAddress(), port);
        socket.setSoTimeout(5000);
        return socket;
    }

    private static void assertEchoes(Socket socket, char c) throws IOException {
        socket.getOutputStream().write(c);
        assertThat(socket.getInputStream().read()).isEqualTo(c);
    }

    private static int readOrEnd(Socket socket) {
        try {
            return socket.getInputStream().read();
        } catch (IOException reset) {
            return -1;
        }
    }
}
