package dev.onionrelay.registry;

import dev.onionrelay.relay.OnionEngine;
import dev.onionrelay.relay.Relay;
import dev.onionrelay.relay.RelayException;
import dev.onionrelay.relay.RelaySpec;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;

/**
 * The relays declared in configuration: opening them (validated like API ones, never stored, FAILED rather than
 * refused when they cannot open), which ones they are (read-only over the API), and the stored relays not loaded
 * because a declared relay has their name. Apart from the registry because declared relays follow rules of their own:
 * a declared relay wins every name clash with a stored one, and the stored one is logged once, kept in the store and
 * reported by {@link RelayRegistry#skipped()}. Thread-safe: read by API calls without the registry's lock.
 */
final class DeclaredRelays {

    /** The registry's logger: these lines are the registry's story, moved here with the code that tells it. */
    private static final System.Logger LOG = System.getLogger(RelayRegistry.class.getName());

    private final OnionEngine engine;
    private final ListenRetries retries;
    private final CredentialUse credentials;
    private final Set<String> ids = ConcurrentHashMap.newKeySet();
    private final List<RelayRegistry.SkippedRelay> skipped = new CopyOnWriteArrayList<>();

    DeclaredRelays(OnionEngine engine, ListenRetries retries, CredentialUse credentials) {
        this.engine = engine;
        this.retries = retries;
        this.credentials = credentials;
    }

    /**
     * Opens a declared relay with the stable id {@code config-<name>} and records it as declared; the caller registers
     * it. A relay that {@code validate} refuses (policy, limits) is FAILED for good, one that cannot listen is FAILED
     * and keeps trying.
     *
     * @param validate the registry's checks of a new relay, under its lock
     * @throws RelayException CONFLICT on {@code name} when another relay has the name
     */
    Relay open(RelaySpec spec, Consumer<RelaySpec> validate) {
        String id = "config-" + spec.name();
        Instant createdAt = Instant.now();
        Relay relay;
        try {
            validate.accept(spec);
        } catch (RelayException e) {
            if (e.kind() == RelayException.Kind.CONFLICT && "name".equals(e.field())) {
                throw e;
            }
            // Not retried: policy and limits do not change while the service runs.
            LOG.log(
                    System.Logger.Level.WARNING,
                    "declared relay {0} could not be opened: {1}",
                    spec.name(),
                    e.getMessage());
            relay = engine.failed(id, spec, createdAt, e.getMessage());
            ids.add(id);
            return relay;
        }
        credentials.hold(id, spec);
        relay = retries.openOrRetry(id, spec, createdAt, null, "declared relay {0} could not be opened: {1}");
        ids.add(id);
        return relay;
    }

    /**
     * Refuses (CONFLICT) to delete a declared relay over the API: configuration would bring it back at the next start;
     * it is removed by removing it there.
     */
    void checkDeletable(Relay relay) {
        if (contains(relay.id())) {
            throw new RelayException(
                    RelayException.Kind.CONFLICT,
                    null,
                    "relay '" + relay.spec().name()
                            + "' is declared in configuration (onion.relays) and cannot be deleted over the API;"
                            + " remove it from the configuration instead");
        }
    }

    /** A declared relay changes with its configuration, not over the API: CONFLICT. */
    void checkReplaceable(Relay relay) {
        if (contains(relay.id())) {
            throw new RelayException(
                    RelayException.Kind.CONFLICT,
                    null,
                    "relay '" + relay.spec().name()
                            + "' is declared in configuration (onion.relays) and cannot be replaced over the API;"
                            + " change it in the configuration instead");
        }
    }

    boolean contains(String id) {
        return ids.contains(id);
    }

    /** Whether the stored relay {@code id} was skipped for its name. */
    boolean skipped(String id) {
        return skipped.stream().anyMatch(s -> s.id().equals(id));
    }

    /**
     * Whether the store sync leaves a stored relay alone: skipped before and still not running, or named like a
     * declared relay (given the relay that has its name).
     */
    boolean keepsOut(StoredRelay stored, boolean running, Optional<Relay> holder) {
        return (!running && skipped(stored.id())) || nameClash(stored, holder);
    }

    List<RelayRegistry.SkippedRelay> skipped() {
        return List.copyOf(skipped);
    }

    /**
     * Whether a declared relay has the name of {@code stored}, given the relay that has that name; the first time, the
     * stored relay is recorded as skipped and logged.
     */
    boolean nameClash(StoredRelay stored, Optional<Relay> holder) {
        RelaySpec spec = stored.spec();
        Optional<Relay> clash = holder.filter(other -> ids.contains(other.id()));
        if (clash.isEmpty()) {
            return false;
        }
        if (!skipped(stored.id())) {
            String reason = "the name '" + spec.name()
                    + "' is declared in configuration (onion.relays); the stored relay is kept in the store, not loaded";
            skipped.add(new RelayRegistry.SkippedRelay(stored.id(), spec.name(), reason));
            LOG.log(System.Logger.Level.WARNING, "relay {0} ({1}) not loaded: {2}", spec.name(), stored.id(), reason);
        }
        return true;
    }
}
