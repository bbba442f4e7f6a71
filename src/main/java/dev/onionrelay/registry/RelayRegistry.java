package dev.onionrelay.registry;

import dev.onionrelay.layer.LayerStatus;
import dev.onionrelay.layer.PreparedLayer;
import dev.onionrelay.layer.Side;
import dev.onionrelay.layer.TlsContexts;
import dev.onionrelay.relay.OnionEngine;
import dev.onionrelay.relay.Relay;
import dev.onionrelay.relay.RelayException;
import dev.onionrelay.relay.RelaySpec;
import dev.onionrelay.relay.RelayState;
import dev.onionrelay.relay.Tunnel;
import java.time.Duration;
import java.time.Instant;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Pattern;

/**
 * The registry of relays: validates specs against policy and limits, builds their TLS contexts, opens them on the
 * engine, persists the ones created over the API and brings them back at start. Knows nothing about HTTP.
 *
 * <p>Creation is all or nothing: a relay is registered only after its listener is bound and its record saved.
 *
 * <p>A relay holds the credentials its layers name from before it looks them up until it is deleted, so a credential
 * cannot be deleted while a relay that uses it exists or is being created. Relays declared in configuration are opened
 * first at start and are read-only here ({@link #delete} and {@link #replace} refuse them); a stored relay whose name a
 * declared one has taken is not loaded, its file stays on disk, and {@link #skipped()} reports it. A relay that cannot
 * open at start (port taken, credential missing) is {@link RelayState#FAILED} and tries again with the
 * {@link ListenRetry} backoff; its {@link Relay#error()} says why and when the next try is.
 *
 * <p>This class keeps the relays, their creation, deletion and store sync, and the locking that orders them; each
 * other concern has its own class: {@link SpecRules} (validation), {@link RelayOpener} (TLS contexts and binds),
 * {@link ListenRetries}, {@link LiveLayers} (push and pop), {@link CredentialUse}, {@link DeclaredRelays} and
 * {@link RelayReplacement}.
 */
public final class RelayRegistry implements AutoCloseable {

    private static final System.Logger LOG = System.getLogger(RelayRegistry.class.getName());
    public static final Pattern NAME = dev.onionrelay.credential.SafeName.PATTERN;

    private final OnionEngine engine;
    private final RelayStore store;
    private final RelayRequests.Defaults defaults;
    private final Map<String, Relay> relays = new ConcurrentHashMap<>();
    /**
     * Guards changes of {@link #relays}, {@link #creating} and {@link #writes}: short sections only, never store I/O
     * or a bind, so that a slow database or a slow listener stalls no other API call (issue 23). Creates and deletes
     * check and reserve under it, do their I/O outside it, and finish under it again.
     */
    private final Object lock = new Object();
    /** Serializes the store sync, restore, declared relays and refreshes, which read the store and bind (retries meet stops on the relay itself); API calls take it only when a create meets a taken port. */
    private final Object syncLock = new Object();
    /** Creates under way, name to id: validated and reserved, not yet in {@link #relays}. Guarded by {@link #lock}. */
    private final Map<String, String> creating = new HashMap<>();
    /** This instance's acknowledged store writes, for the sync's re-check. Guarded by {@link #lock}. */
    private final LocalWrites writes = new LocalWrites();

    private final DeclaredRelays declared;
    private final SpecRules rules;
    /** The clash checks' view of {@link #relays} and {@link #creating}: read under {@link #lock}. */
    private final SpecRules.Running clashes;

    private final RelayOpener opener;
    private final StoreClaims claims;
    private final ListenRetries retries;
    private final LiveLayers liveLayers;
    private final CredentialUse credentials;
    /** Set by {@link #drain}: no relay is created or opened any more. */
    private volatile boolean draining;

    private final RelayReplacement replacement;

    /** A stored relay that was not loaded at start, with why; its file is kept. */
    public record SkippedRelay(String id, String name, String reason) {}

    public RelayRegistry(
            OnionEngine engine, TlsContexts contexts, RelayStore store, RelayPolicy policy, RelayLimits limits) {
        this(engine, contexts, store, policy, limits, ListenRetry.DEFAULTS, RelayRequests.Defaults.standard(limits));
    }

    /**
     * @param defaults what a relay or layer request that leaves a field out gets (configured timeouts, TLS profile)
     */
    public RelayRegistry(
            OnionEngine engine,
            TlsContexts contexts,
            RelayStore store,
            RelayPolicy policy,
            RelayLimits limits,
            ListenRetry listenRetry,
            RelayRequests.Defaults defaults) {
        this.defaults = defaults;
        this.engine = engine;
        this.store = store;
        this.rules = new SpecRules(policy, limits);
        this.opener = new RelayOpener(engine, contexts);
        this.claims = new StoreClaims(store, opener, engine);
        this.retries = new ListenRetries(engine, opener, listenRetry, relay -> relays.get(relay.id()) == relay);
        this.liveLayers = new LiveLayers(this::get, rules, opener, limits, defaults);
        this.credentials = new CredentialUse(contexts.keyMaterial());
        this.declared = new DeclaredRelays(engine, retries, credentials);
        this.clashes = new RunningRelays(relays, creating, declared, this::find);
        this.replacement = new RelayReplacement(rules, opener, engine, store, credentials, lock, clashes);
    }

    public OnionEngine engine() {
        return engine;
    }

    /**
     * Creates, opens and persists the relay a request describes, with this registry's defaults for what it leaves out.
     *
     * @throws InvalidRequestException naming every field at fault
     * @throws RelayException when policy, limits or a name clash refuse it
     */
    public Relay create(RelayRequest request) {
        return create(RelayRequests.toSpec(request, defaults));
    }

    /**
     * Creates, opens and persists a relay. The checks and the name's reservation happen under the registry's lock; the
     * bind and the store write outside it, so that a slow database delays this create only.
     */
    public Relay create(RelaySpec spec) {
        String id = UUID.randomUUID().toString();
        synchronized (lock) {
            Drain.refuseWhile(draining);
            rules.checkRoom(relays.size() + creating.size());
            rules.validate(spec, clashes);
            creating.put(spec.name(), id);
        }
        Relay relay;
        try {
            credentials.hold(id, spec);
            List<PreparedLayer> ingress = opener.prepare(Side.INGRESS, spec);
            List<PreparedLayer> egress = opener.prepare(Side.EGRESS, spec);
            Instant createdAt = Instant.now();
            relay = claims.claimAndBind(
                    id,
                    spec,
                    ingress,
                    egress,
                    createdAt,
                    () -> {
                        synchronized (syncLock) {
                            synchronized (lock) {
                                rules.checkPort(spec, clashes);
                            }
                        }
                    },
                    () -> wrote(id));
        } catch (RuntimeException e) {
            credentials.release(id);
            synchronized (lock) {
                creating.remove(spec.name());
            }
            throw e;
        }
        synchronized (lock) {
            creating.remove(spec.name());
            relays.put(id, relay);
            writes.wrote(id);
        }
        return relay;
    }

    /**
     * Replaces a relay's definition in place ({@link RelayReplacement}); a name in the request must be the relay's. Under
     * the sync lock: no store sync or credential refresh of this instance swaps the relay meanwhile.
     *
     * @throws InvalidRequestException naming every field at fault
     * @throws RelayException NOT_FOUND, CONFLICT for a declared relay, and whatever a create would refuse
     */
    public Relay replace(String idOrName, RelayRequest request) {
        Drain.refuseWhile(draining); // a replacement may bind a new listener, which a drain would not close
        Relay relay = get(idOrName);
        declared.checkReplaceable(relay);
        RelaySpec spec = RelayRequests.toSpec(RelayReplacement.keepingName(relay, request), defaults);
        synchronized (syncLock) {
            return replacement.replace(get(relay.id()), spec, relay.createdAt(), this::wrote);
        }
    }

    /** A store write of this instance about relay {@code id} was acknowledged (see {@link LocalWrites}). */
    private void wrote(String id) {
        synchronized (lock) {
            writes.wrote(id);
        }
    }

    /**
     * Opens a relay declared in configuration: validated like an API one, never persisted (configuration brings it
     * back at every start), with a stable id derived from its name, and read-only over the API. Declared relays are
     * opened before {@link #restore}, so that they win a name clash with a stored relay. One that cannot open (port
     * taken) is kept as {@link RelayState#FAILED} with the reason and tries again, so that status and health show it.
     *
     * @throws RelayException CONFLICT on {@code name} when another declared relay has the name
     */
    public Relay openDeclared(RelaySpec spec) {
        synchronized (syncLock) {
            Relay relay = declared.open(spec, checked -> {
                synchronized (lock) {
                    rules.validate(checked, clashes);
                }
            });
            put(relay);
            return relay;
        }
    }

    private void put(Relay relay) {
        synchronized (lock) {
            relays.put(relay.id(), relay);
        }
    }

    /**
     * Opens the relays saved by earlier runs, with their ids and ports. One that cannot come back (port taken,
     * credential gone) is kept as {@link RelayState#FAILED} with the reason and tries again. One whose name a declared
     * relay has (call {@link #openDeclared} first) is not loaded: the declared relay wins, the stored one is logged,
     * kept on disk and listed by {@link #skipped()}.
     */
    public void restore() {
        synchronized (syncLock) {
            for (StoredRelay stored : store.load()) {
                if (!declared.nameClash(stored, find(stored.spec().name()))) {
                    openStored(stored);
                }
            }
        }
    }

    /**
     * Makes the relays of this registry match its store, which other instances of a fleet change too: opens the
     * stored relays it does not run, closes those no longer stored and opens again those whose stored spec changed.
     * Declared relays are left alone, and a stored relay with a declared relay's name is skipped. The store is read
     * outside the registry's lock; a relay this instance created or deleted after that read began is left for the next
     * sync (see {@link LocalWrites}), so a relay being created here is never closed as "not stored".
     *
     * @return what was done
     * @throws RuntimeException whatever the store throws when it cannot be read; then nothing is changed
     */
    public StoreSync reconcile() {
        synchronized (syncLock) {
            if (draining) {
                return StoreSync.NOTHING; // shutting down: opens nothing, and closing is the drain's
            }
            long mark;
            synchronized (lock) {
                mark = writes.mark();
            }
            List<StoredRelay> stored = store.load();
            StoreSync plan;
            synchronized (lock) {
                Set<String> unsettled = writes.since(mark);
                unsettled.addAll(creating.values()); // claimed in the store, not opened yet
                Set<String> skip = new LinkedHashSet<>(unsettled);
                for (StoredRelay relay : stored) {
                    if (declared.keepsOut(
                            relay,
                            relays.get(relay.id()) != null,
                            find(relay.spec().name()))) {
                        skip.add(relay.id());
                    }
                }
                Map<String, RelaySpec> running = new LinkedHashMap<>();
                Map<String, Long> revisions = new HashMap<>();
                relays.values().stream()
                        .filter(relay -> !declared.contains(relay.id()) && !unsettled.contains(relay.id()))
                        .forEach(relay -> {
                            running.put(relay.id(), relay.spec());
                            revisions.put(relay.id(), relay.revision());
                        });
                plan = StoreSync.diff(running, revisions, stored, skip);
                writes.settledUpTo(mark);
            }
            for (String id : plan.close()) {
                closeLocally(id, "it was deleted from the store");
            }
            for (StoredRelay relay : plan.replace()) {
                Relay running = relays.get(relay.id());
                if (running == null || !replacement.follow(running, relay)) {
                    closeLocally(relay.id(), "its stored spec changed");
                    openStored(relay);
                }
            }
            for (StoredRelay relay : plan.open()) {
                openStored(relay);
            }
            return plan;
        }
    }

    private void openStored(StoredRelay stored) {
        RelaySpec spec = stored.spec();
        credentials.hold(stored.id(), spec);
        Relay relay = retries.openOrRetry(
                stored.id(),
                spec,
                stored.createdAt(),
                "relay {0} ({1}) listening on {2}, from the store",
                "relay {0} could not be restored: {1}");
        relay.resumeAt(stored.revision());
        put(relay);
    }

    private void closeLocally(String id, String why) {
        Relay relay;
        synchronized (lock) {
            relay = relays.remove(id);
        }
        if (relay == null) {
            return;
        }
        stopAndRelease(relay, "closed: " + why);
    }

    /** Stops a relay taken out of {@link #relays} and lets go of its credentials; logs "relay name (id) {@code what}". */
    private void stopAndRelease(Relay relay, String what) {
        ListenRetries.stop(relay);
        credentials.release(relay.id());
        LOG.log(System.Logger.Level.INFO, "relay {0} ({1}) {2}", relay.spec().name(), relay.id(), what);
    }

    /** Stored relays that were not loaded at start (their name is declared in configuration), with why. */
    public List<SkippedRelay> skipped() {
        return declared.skipped();
    }

    /** An open tunnel of a relay. */
    public Tunnel tunnel(String relay, String tunnel) {
        return liveLayers.tunnel(relay, tunnel);
    }

    /**
     * Pushes a new innermost layer on one side of a live tunnel (startTLS) and waits until it is on the stack; its
     * handshake then runs in the background. Refused, each for one reason: a tunnel that is not open (CONFLICT), a side
     * at the maximum depth (LIMIT), a layer named like a live one (INVALID), {@code verify: none} unless policy allows
     * it (FORBIDDEN), and anything the request mapping refuses (INVALID, naming the fields).
     *
     * @return the pushed layer's status, taken when it was pushed
     */
    public LayerStatus push(String relay, String tunnel, Side side, LayerRequest request) {
        return liveLayers.push(relay, tunnel, side, request);
    }

    /**
     * Pops the innermost layer of one side of a live tunnel (stopTLS): close_notify goes out, the TCP connection stays.
     * Refused (CONFLICT) at the side's minimum depth, so that nobody can downgrade a tunnel by popping.
     */
    public void pop(String relay, String tunnel, Side side) {
        liveLayers.pop(relay, tunnel, side);
    }

    /** Finds a relay by id or, failing that, by name. */
    public Optional<Relay> find(String idOrName) {
        Relay byId = relays.get(idOrName);
        if (byId != null) {
            return Optional.of(byId);
        }
        return relays.values().stream()
                .filter(r -> r.spec().name().equals(idOrName))
                .findFirst();
    }

    public Relay get(String idOrName) {
        return find(idOrName)
                .orElseThrow(() -> new RelayException(
                        RelayException.Kind.NOT_FOUND, null, "no relay with id or name '" + idOrName + "'"));
    }

    /** All relays, oldest first. */
    public List<Relay> list() {
        return relays.values().stream()
                .sorted(Comparator.comparing(Relay::createdAt))
                .toList();
    }

    /**
     * Stops a relay (listener and tunnels) and forgets it.
     *
     * @throws RelayException NOT_FOUND for an unknown relay, CONFLICT for one declared in configuration (configuration
     *     would bring it back at the next start; it is removed by removing it there)
     */
    public void delete(String idOrName) {
        Relay relay = get(idOrName);
        declared.checkDeletable(relay);
        // The store first, outside the registry's lock: if it refuses (unreachable), the relay keeps serving and
        // nothing is half-done, and while it is slow no other call waits.
        store.delete(relay.id());
        synchronized (lock) {
            if (!relays.remove(relay.id(), relay)) {
                return; // a concurrent delete or store sync took it out and stops it
            }
            writes.wrote(relay.id());
        }
        stopAndRelease(relay, "deleted");
    }

    /**
     * Rebuilds the TLS contexts of every listening relay whose layers use {@code credentialName}, after its key material
     * changed in the credential store (file credentials rotated on disk). Tunnels accepted afterwards use the new
     * material; open tunnels keep the contexts they started with. A relay whose contexts cannot be rebuilt keeps its
     * current ones and is named in the result's {@code failed} map, so the caller can report it.
     *
     * @return the relays refreshed, and those that kept their old contexts with the reason
     */
    public CredentialRefresh refresh(String credentialName) {
        synchronized (syncLock) {
            return CredentialUse.refresh(list(), credentialName, opener);
        }
    }

    /** Names of the relays whose layers use a credential (as identity or as trust). */
    public Set<String> relaysUsing(String credentialName) {
        return CredentialUse.relaysUsing(list(), credentialName);
    }

    /** Graceful shutdown ({@link Drain}): no relay is created or opened any more; the relays stay listed. */
    public Drain.Outcome drain(Duration timeout) {
        synchronized (syncLock) { // a store sync under way finishes first; the next one opens nothing
            draining = true;
        }
        retries.close();
        return Drain.run(this::list, timeout);
    }

    /** Whether {@link #drain} has begun. */
    public boolean draining() {
        return draining;
    }

    @Override
    public void close() {
        retries.close();
        relays.values().forEach(Relay::stop);
        engine.close();
    }
}
