package dev.onionrelay.registry;

import dev.onionrelay.relay.RelaySpec;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * What an instance must do so that its relays match a shared store: the pure difference between the relays it runs
 * (by id, with the spec each was opened with) and the relays stored. {@link RelayRegistry#reconcile()} applies it.
 *
 * @param open stored relays this instance does not run: open them
 * @param close ids this instance runs that are no longer stored: close them
 * @param replace stored relays whose spec differs from the running one (layers, options, target): close and open
 *     again with the stored spec
 */
public record StoreSync(List<StoredRelay> open, List<String> close, List<StoredRelay> replace) {

    /** Nothing to do (a registry that is draining follows its store no more). */
    public static final StoreSync NOTHING = new StoreSync(List.of(), List.of(), List.of());

    public StoreSync {
        open = List.copyOf(open);
        close = List.copyOf(close);
        replace = List.copyOf(replace);
    }

    /**
     * @param running the store-managed relays this instance runs (declared relays left out), id to spec
     * @param stored the relays in the store
     * @param skipped ids not to open (a declared relay has their name)
     */
    public static StoreSync diff(Map<String, RelaySpec> running, List<StoredRelay> stored, Set<String> skipped) {
        return diff(running, Map.of(), stored, skipped);
    }

    /**
     * Like {@link #diff(Map, List, Set)}, and a stored relay whose revision differs from the running one's (in
     * {@code revisions}, by id) is replaced even when its spec is the same: a replacement with an unchanged spec still
     * counts as one on every instance.
     */
    public static StoreSync diff(
            Map<String, RelaySpec> running,
            Map<String, Long> revisions,
            List<StoredRelay> stored,
            Set<String> skipped) {
        Map<String, StoredRelay> wanted = new LinkedHashMap<>();
        for (StoredRelay relay : stored) {
            if (!skipped.contains(relay.id())) {
                wanted.put(relay.id(), relay);
            }
        }
        List<StoredRelay> open = new ArrayList<>();
        List<StoredRelay> replace = new ArrayList<>();
        for (StoredRelay relay : wanted.values()) {
            RelaySpec current = running.get(relay.id());
            if (current == null) {
                open.add(relay);
            } else if (!current.equals(relay.spec())
                    || (revisions.containsKey(relay.id()) && revisions.get(relay.id()) != relay.revision())) {
                replace.add(relay);
            }
        }
        List<String> close = new ArrayList<>();
        for (String id : running.keySet()) {
            if (!wanted.containsKey(id)) {
                close.add(id);
            }
        }
        return new StoreSync(open, close, replace);
    }

    /** Whether there is nothing to do. */
    public boolean isEmpty() {
        return open.isEmpty() && close.isEmpty() && replace.isEmpty();
    }
}
