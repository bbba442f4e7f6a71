package dev.onionrelay.relay;

import static org.assertj.core.api.Assertions.assertThat;

import dev.onionrelay.support.EchoServer;
import dev.onionrelay.support.Onions;
import dev.onionrelay.support.Scenario;
import dev.onionrelay.support.Traffic;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * {@code halfClose: hold} against a target that ends its direction only after the client's end reached it (an echo
 * server that answers EOF with EOF): the held end is passed on when the hold times out, and the tunnel ends cleanly.
 */
@Scenario
class HalfCloseHoldTest {

    Onions onions;
    EchoServer target;

    @BeforeEach
    void setUp() throws Exception {
        onions = new Onions();
        target = new EchoServer();
    }

    @AfterEach
    void tearDown() throws Exception {
        onions.close();
        target.close();
    }

    @Test
    void aHeldEndIsPassedOnWhenTheHoldTimesOut() throws Exception {
        Relay relay = onions.relay(
                "hold",
                target.port(),
                List.of(),
                List.of(),
                Onions.options(0, 0).withHalfClose(HalfClose.HOLD, Duration.ofMillis(300)));

        Traffic.Echo echo = Traffic.echo(Onions.port(relay), 1 << 20);

        assertThat(echo.intact()).as(echo.toString()).isTrue();
    }
}
