package dev.onionrelay.registry;

import dev.onionrelay.relay.Relay;
import dev.onionrelay.relay.RelayException;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * A graceful shutdown of a registry's relays: every listener closes at once (new connections are refused), open
 * tunnels run on until none is left or the timeout passes, and those still open then are closed. Polls rather than
 * waits on an event: the relays to drain may change while it runs (a create or a store sync that was under way when it
 * began finishes its bind), and each poll closes the listener of whatever relay has one.
 *
 * <p>Tunnels that have not finished their handshakes when the drain begins count as open: they were accepted before
 * it, and their clients get their tunnel.
 *
 * <p>It does not log: it runs at shutdown, when the JDK's own shutdown hook has already reset {@code java.util.logging}
 * (where {@code System.Logger} writes) and such lines would be lost. The caller reports its {@link Outcome}.
 */
public final class Drain {

    /** How often the open tunnels are counted. */
    static final Duration POLL = Duration.ofMillis(50);

    /**
     * What a drain did.
     *
     * @param openAtStart tunnels open when the listeners were closed
     * @param closedAtTimeout tunnels still open at the timeout, closed by the drain
     * @param took from the start of the drain until every tunnel had ended or was closed
     */
    public record Outcome(int openAtStart, int closedAtTimeout, Duration took) {}

    private Drain() {}

    /**
     * Drains the relays {@code relays} returns (read again at every poll).
     *
     * @param timeout how long open tunnels may run on; zero closes them at once
     */
    static Outcome run(Supplier<List<Relay>> relays, Duration timeout) {
        long start = System.nanoTime();
        long deadline = start + timeout.toNanos();
        int openAtStart = stopListening(relays.get());
        int open = openAtStart;
        while (open > 0 && System.nanoTime() < deadline) {
            if (!sleep(Math.min(POLL.toNanos(), deadline - System.nanoTime()))) {
                break; // interrupted: stop waiting, the tunnels are closed now
            }
            open = stopListening(relays.get());
        }
        int closed = 0;
        for (Relay relay : relays.get()) {
            closed += relay.tunnels().size();
            ListenRetries.stop(relay);
        }
        return new Outcome(openAtStart, closed, Duration.ofNanos(System.nanoTime() - start));
    }

    /** What a create meets once the drain has begun: 503, try another instance. */
    static void refuseWhile(boolean draining) {
        if (draining) {
            throw new RelayException(
                    RelayException.Kind.UNAVAILABLE,
                    null,
                    "this instance is shutting down and creates no relays; create it on another instance");
        }
    }

    /** Closes every listener still open; returns the tunnels open on these relays. */
    private static int stopListening(List<Relay> relays) {
        int open = 0;
        for (Relay relay : relays) {
            // Under the relay's monitor, as a listen retry's reopen is (see ListenRetries#stop).
            synchronized (relay) {
                relay.stopListening();
            }
            open += relay.tunnels().size();
        }
        return open;
    }

    /** False when interrupted. */
    private static boolean sleep(long nanos) {
        try {
            TimeUnit.NANOSECONDS.sleep(nanos);
            return true;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }
}
