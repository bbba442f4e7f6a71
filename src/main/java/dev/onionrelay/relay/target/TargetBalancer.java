package dev.onionrelay.relay.target;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.function.LongSupplier;

/**
 * The order in which one relay's tunnels try its fixed targets, and which targets are down. Failover starts at the
 * first target, round-robin one further along for each tunnel. A target that refused or timed out is marked down for
 * a while: until then it is tried only after every target that is not down (so when all are down, all are still
 * tried, in the same order). A successful connect marks a target up again at once. Thread-safe: tunnels of one relay
 * run on several event loops.
 */
public final class TargetBalancer {

    private final int size;
    private final TargetSpec.Balance balance;
    private final long downForNanos;
    private final LongSupplier nanoClock;
    private final AtomicInteger next = new AtomicInteger();
    /** Per target: the nano time until which it is down; 0 when it is up. */
    private final AtomicLongArray downUntil;

    public TargetBalancer(TargetSpec target, Duration downFor) {
        this(target, downFor, System::nanoTime);
    }

    TargetBalancer(TargetSpec target, Duration downFor, LongSupplier nanoClock) {
        this.size = target.endpoints().size();
        this.balance = target.balance();
        this.downForNanos = downFor.toNanos();
        this.nanoClock = nanoClock;
        this.downUntil = new AtomicLongArray(Math.max(size, 1));
    }

    /** The indexes of the targets in the order one new tunnel tries them. */
    public List<Integer> order() {
        int start =
                balance == TargetSpec.Balance.ROUND_ROBIN && size > 0 ? Math.floorMod(next.getAndIncrement(), size) : 0;
        long now = nanoClock.getAsLong();
        List<Integer> up = new ArrayList<>(size);
        List<Integer> down = new ArrayList<>();
        for (int i = 0; i < size; i++) {
            int index = (start + i) % size;
            (isDown(index, now) ? down : up).add(index);
        }
        up.addAll(down);
        return up;
    }

    /** A target refused or timed out: try the others first until its down-time has passed. */
    public void markDown(int index) {
        long until = nanoClock.getAsLong() + downForNanos;
        downUntil.set(index, until == 0 ? 1 : until);
    }

    /** A target accepted a connection. */
    public void markUp(int index) {
        downUntil.set(index, 0);
    }

    /** Whether a target is down now. */
    public boolean isDown(int index) {
        return isDown(index, nanoClock.getAsLong());
    }

    private boolean isDown(int index, long now) {
        long until = downUntil.get(index);
        return until != 0 && now - until < 0;
    }
}
