package dev.onionrelay.registry;

import dev.onionrelay.relay.OnionEngine;
import dev.onionrelay.relay.Relay;
import dev.onionrelay.relay.RelayException;
import dev.onionrelay.relay.RelaySpec;
import dev.onionrelay.relay.RelayState;
import io.netty.util.concurrent.DefaultThreadFactory;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import org.jspecify.annotations.Nullable;

/**
 * Keeps trying to open the relays that could not open (port taken, credential missing), with the {@link ListenRetry}
 * backoff, on one thread of its own. Apart from the registry because retrying is a timer loop with its own thread and
 * its own meeting point with deletes: a retry and a stop of the same relay meet on the relay's monitor (see
 * {@link #stop}), never on the registry's lock, so a retry's bind holds up no API call.
 */
final class ListenRetries implements AutoCloseable {

    /** The registry's logger: these lines are the registry's story, moved here with the code that tells it. */
    private static final System.Logger LOG = System.getLogger(RelayRegistry.class.getName());

    private final OnionEngine engine;
    private final RelayOpener opener;
    private final ListenRetry listenRetry;
    /** Whether a relay is still the registered one under its id: a retry of a relay deleted or replaced stops. */
    private final Predicate<Relay> registered;

    private final ScheduledExecutorService retries =
            Executors.newSingleThreadScheduledExecutor(new DefaultThreadFactory("onion-listen-retry", true));

    ListenRetries(OnionEngine engine, RelayOpener opener, ListenRetry listenRetry, Predicate<Relay> registered) {
        this.engine = engine;
        this.opener = opener;
        this.listenRetry = listenRetry;
        this.registered = registered;
    }

    /**
     * Opens a relay now, logging {@code openedPattern} (name, id, address) when there is one, or, when it cannot
     * (port taken, credential missing), returns it FAILED, logged with {@code failedPattern} (name, why), and keeps
     * trying.
     */
    Relay openOrRetry(
            String id, RelaySpec spec, Instant createdAt, @Nullable String openedPattern, String failedPattern) {
        Relay relay;
        try {
            relay = opener.open(id, spec, createdAt);
        } catch (RelayException e) {
            return failed(id, spec, createdAt, e.getMessage(), failedPattern);
        }
        if (openedPattern != null) {
            LOG.log(System.Logger.Level.INFO, openedPattern, spec.name(), id, engine.listenAddress(relay.spec()));
        }
        return relay;
    }

    /** A FAILED relay for {@code spec}, logged with {@code logPattern} (name, why), whose first retry is scheduled. */
    private Relay failed(String id, RelaySpec spec, Instant createdAt, String why, String logPattern) {
        LOG.log(System.Logger.Level.WARNING, logPattern, spec.name(), why);
        Relay relay = engine.failed(id, spec, createdAt, why);
        schedule(relay, why, 1);
        return relay;
    }

    private void schedule(Relay relay, String why, int retry) {
        Duration delay = listenRetry.delay(retry);
        Instant next = Instant.now().plus(delay).truncatedTo(ChronoUnit.SECONDS);
        relay.failed(why + "; next try at " + next + " (retry " + retry + ")");
        try {
            retries.schedule(() -> retry(relay, retry), delay.toMillis(), TimeUnit.MILLISECONDS);
        } catch (RejectedExecutionException e) {
            // Closing: nothing to retry any more.
        }
    }

    /**
     * Stops a relay taken out of the registry. Under the relay's own monitor, as a retry's reopen is: a retry that
     * found the relay still registered finishes its bind first and the stop then closes that listener too.
     */
    static void stop(Relay relay) {
        synchronized (relay) {
            relay.stop();
        }
    }

    private void retry(Relay relay, int retry) {
        synchronized (relay) {
            retryLocked(relay, retry);
        }
    }

    private void retryLocked(Relay relay, int retry) {
        if (!registered.test(relay) || relay.state() != RelayState.FAILED) {
            return; // deleted or replaced meanwhile
        }
        RelaySpec spec = relay.spec();
        try {
            opener.reopen(relay);
        } catch (RelayException e) {
            LOG.log(System.Logger.Level.DEBUG, "relay {0} still cannot open: {1}", spec.name(), e.getMessage());
            schedule(relay, e.getMessage(), retry + 1);
            return;
        }
        LOG.log(
                System.Logger.Level.INFO,
                "relay {0} ({1}) listening on {2} after {3} retries",
                spec.name(),
                relay.id(),
                engine.listenAddress(relay.spec()),
                retry);
    }

    /** Stops retrying: scheduled tries are dropped and a try under way is interrupted. */
    @Override
    public void close() {
        retries.shutdownNow();
    }
}
