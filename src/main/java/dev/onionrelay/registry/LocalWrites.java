package dev.onionrelay.registry;

import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Set;

/**
 * The store writes this instance made (relays created or deleted), in the order they were acknowledged, so that a
 * store sync can tell which relays its read may have missed: the registry writes to the store outside its lock, so a
 * sync's read can start before a create's save commits and be compared with the relays after the create has put its
 * relay in place (it would close it as "not stored"), or likewise see a relay deleted a moment later (it would open it
 * again). The sync leaves such relays alone; the next sync, whose read comes after the write, settles them.
 *
 * <p>Not thread-safe: guarded by the registry's lock.
 */
final class LocalWrites {

    private long sequence;
    private final Map<String, Long> lastWrite = new HashMap<>();

    /** The position a sync notes before it reads the store. */
    long mark() {
        return sequence;
    }

    /** A write about {@code id} was acknowledged by the store. */
    void wrote(String id) {
        lastWrite.put(id, ++sequence);
    }

    /** Ids written since {@code mark}: a read that began at the mark may predate their write. */
    Set<String> since(long mark) {
        Set<String> ids = new LinkedHashSet<>();
        lastWrite.forEach((id, at) -> {
            if (at > mark) {
                ids.add(id);
            }
        });
        return ids;
    }

    /** Forgets writes up to {@code mark}: a read that began after them saw them (syncs run one at a time). */
    void settledUpTo(long mark) {
        lastWrite.values().removeIf(at -> at <= mark);
    }
}
