package dev.onionrelay.boot;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import sun.misc.Signal;

/**
 * Makes SIGTERM an ordinary exit: the JVM's own handler exits with status 143 (128 + 15) after the shutdown hooks ran,
 * which Kubernetes and systemd report as an error although the instance drained and stopped as asked. This handler
 * exits with 0 through {@link System#exit}, which runs the same shutdown hooks (Spring's context close, with the
 * drain of open tunnels; see {@link GracefulDrain}). {@code sun.misc.Signal} stays accessible for exactly this (JEP 260, module
 * {@code jdk.unsupported}); a JVM that does not offer it (started with {@code -Xrs}) keeps its own handler.
 */
public final class TermSignal {

    private static final Logger LOG = LoggerFactory.getLogger(TermSignal.class);

    private TermSignal() {}

    /** Installs the handler; called once, by the application's {@code main}. */
    public static void exitZeroOnTerm() {
        try {
            Signal.handle(new Signal("TERM"), signal -> {
                LOG.info("SIGTERM: shutting down (readiness OUT_OF_SERVICE, draining open tunnels)");
                System.exit(0);
            });
        } catch (IllegalArgumentException | UnsupportedOperationException unavailable) {
            LOG.debug("SIGTERM keeps the JVM's handler: {}", unavailable.getMessage());
        }
    }
}
