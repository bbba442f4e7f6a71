package dev.onionrelay.relay;

import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.Future;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The timers of one tunnel (set-up deadline, proxy-request deadline, half-close hold, lingering close), cancelled
 * together when it closes. A timer left scheduled keeps its tunnel (channels, stacks, TLS engines) reachable until it
 * fires, up to the set-up timeout later: at a few thousand abandoned set-ups a second that was hundreds of MB of heap.
 * Netty removes a cancelled task from its event loop's queue at once. Used on the tunnel's event loop only.
 */
final class TunnelTimers {

    private final EventExecutor loop;
    private final List<Future<?>> scheduled = new ArrayList<>(4);
    private boolean cancelled;

    TunnelTimers(EventExecutor loop) {
        this.loop = loop;
    }

    /** Runs {@code task} after {@code delay}, unless the tunnel closes first. */
    Future<?> schedule(Runnable task, Duration delay) {
        Future<?> timer = loop.schedule(task, delay.toMillis(), TimeUnit.MILLISECONDS);
        if (cancelled) {
            timer.cancel(false);
        } else {
            scheduled.removeIf(Future::isDone);
            scheduled.add(timer);
        }
        return timer;
    }

    /** Cancels every timer, and any scheduled later. */
    void cancelAll() {
        cancelled = true;
        for (Future<?> timer : scheduled) {
            timer.cancel(false);
        }
        scheduled.clear();
    }
}
