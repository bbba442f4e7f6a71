package dev.onionrelay.boot;

import dev.onionrelay.registry.Drain;
import dev.onionrelay.registry.RelayRegistry;
import java.time.Duration;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.context.SmartLifecycle;

/**
 * The graceful shutdown of the relays, as Spring Boot's {@code server.shutdown=graceful} is for the web server: when
 * the context closes (SIGTERM), {@link RelayRegistry#drain} closes every listener and lets open tunnels run for up to
 * {@code onion.shutdown.drain-timeout} before it closes the rest; the registry's own close then finds nothing open.
 *
 * <p>Readiness is OUT_OF_SERVICE from the first moment: Spring Boot publishes {@code REFUSING_TRAFFIC} as the context
 * begins to close, before any lifecycle stops, and the {@code onion} health component reports the drain. This
 * lifecycle stops in the highest phase, before the web servers (the API's graceful shutdown and the management
 * server's child context stop in phases below it), so the API and {@code /actuator} answer during the drain and an
 * operator can watch {@code onion_tunnels_active} fall. The fleet membership is left after it, when the context
 * destroys its beans.
 */
final class GracefulDrain implements SmartLifecycle {

    /** Stops first: before the web servers, which stop a little below the default phase. */
    static final int PHASE = SmartLifecycle.DEFAULT_PHASE;

    private static final Logger LOG = LoggerFactory.getLogger(GracefulDrain.class);

    private final RelayRegistry registry;
    private final Duration timeout;
    private volatile boolean running;

    GracefulDrain(RelayRegistry registry, Duration timeout) {
        this.registry = registry;
        this.timeout = timeout;
    }

    @Override
    public void start() {
        running = true;
    }

    /** Blocks for the drain: synchronous, so {@code spring.lifecycle.timeout-per-shutdown-phase} does not cut it. */
    @Override
    public void stop() {
        try {
            LOG.info("draining: closing every listener; open tunnels may run for up to {}s", timeout.toSeconds());
            Drain.Outcome outcome = registry.drain(timeout);
            if (outcome.closedAtTimeout() > 0) {
                LOG.warn(
                        "drain timeout ({}s) reached: closed the {} tunnels still open, of {} open when it began",
                        timeout.toSeconds(),
                        outcome.closedAtTimeout(),
                        outcome.openAtStart());
            } else {
                LOG.info(
                        "drained: the {} tunnels open when it began ended within {} ms",
                        outcome.openAtStart(),
                        outcome.took().toMillis());
            }
        } finally {
            running = false;
        }
    }

    @Override
    public boolean isRunning() {
        return running;
    }

    @Override
    public int getPhase() {
        return PHASE;
    }
}
