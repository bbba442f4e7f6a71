package dev.onionrelay.registry;

import dev.onionrelay.layer.BelowMinimumDepthException;
import dev.onionrelay.layer.LayerConfigurationException;
import dev.onionrelay.layer.LayerSpec;
import dev.onionrelay.layer.LayerStack;
import dev.onionrelay.layer.LayerStatus;
import dev.onionrelay.layer.PreparedLayer;
import dev.onionrelay.layer.Side;
import dev.onionrelay.layer.TlsContexts;
import dev.onionrelay.layer.Verification;
import dev.onionrelay.relay.Endpoint;
import dev.onionrelay.relay.OnionEngine;
import dev.onionrelay.relay.PushRules;
import dev.onionrelay.relay.Relay;
import dev.onionrelay.relay.RelayException;
import dev.onionrelay.relay.RelaySpec;
import dev.onionrelay.relay.RelayState;
import dev.onionrelay.relay.Tunnel;
import dev.onionrelay.relay.upstream.HostPort;
import io.netty.util.concurrent.DefaultThreadFactory;
import java.io.IOException;
import java.net.BindException;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Collections;
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
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;

/**
 * The registry of relays: validates specs against policy and limits, builds their TLS contexts, opens them on the
 * engine, persists the ones created over the API and brings them back at start. Knows nothing about HTTP.
 *
 * <p>Creation is all or nothing: a relay is registered only after its listener is bound and its record saved.
 *
 * <p>A relay holds the credentials its layers name (in the credential store) from before it looks them up until it
 * is deleted, so a credential cannot be deleted while a relay that uses it exists or is being created.
 *
 * <p>Relays declared in configuration are opened first at start and are read-only here: {@link #delete} refuses
 * them and no other relay may take their name. A stored relay whose name a declared one has taken is not loaded,
 * its file stays on disk, and {@link #skipped()} reports it.
 *
 * <p>A relay that cannot open at start (port taken, credential missing) is {@link RelayState#FAILED} and tries again
 * with the {@link ListenRetry} backoff; its {@link Relay#error()} says why and when the next try is.
 */
public final class RelayRegistry implements AutoCloseable {

    private static final System.Logger LOG = System.getLogger(RelayRegistry.class.getName());
    public static final Pattern NAME = dev.onionrelay.credential.SafeName.PATTERN;

    private final OnionEngine engine;
    private final TlsContexts contexts;
    private final RelayStore store;
    private final RelayPolicy policy;
    private final RelayLimits limits;
    private final ListenRetry listenRetry;
    private final RelayRequests.Defaults defaults;
    private final Map<String, Relay> relays = new ConcurrentHashMap<>();
    /**
     * Guards changes of {@link #relays}, {@link #creating} and {@link #writes}: short sections only, never store I/O
     * or a bind, so that a slow database or a slow listener stalls no other API call (issue 23). Creates and deletes
     * check and reserve under it, do their I/O outside it, and finish under it again.
     */
    private final Object lock = new Object();
    /** Serializes the store sync, restore and listen retries, which read the store and bind; API calls never take it. */
    private final Object syncLock = new Object();
    /** Creates under way, name to id: validated and reserved, not yet in {@link #relays}. Guarded by {@link #lock}. */
    private final Map<String, String> creating = new HashMap<>();
    /** This instance's acknowledged store writes, for the sync's re-check. Guarded by {@link #lock}. */
    private final LocalWrites writes = new LocalWrites();

    private final Set<String> declared = ConcurrentHashMap.newKeySet();
    private final List<SkippedRelay> skipped = new CopyOnWriteArrayList<>();
    private final ScheduledExecutorService retries =
            Executors.newSingleThreadScheduledExecutor(new DefaultThreadFactory("onion-listen-retry", true));

    /** A stored relay that was not loaded at start, with why; its file is kept. */
    public record SkippedRelay(String id, String name, String reason) {}

    public RelayRegistry(
            OnionEngine engine, TlsContexts contexts, RelayStore store, RelayPolicy policy, RelayLimits limits) {
        this(engine, contexts, store, policy, limits, ListenRetry.DEFAULTS);
    }

    public RelayRegistry(
            OnionEngine engine,
            TlsContexts contexts,
            RelayStore store,
            RelayPolicy policy,
            RelayLimits limits,
            ListenRetry listenRetry) {
        this(engine, contexts, store, policy, limits, listenRetry, RelayRequests.Defaults.standard(limits));
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
        this.contexts = contexts;
        this.store = store;
        this.policy = policy;
        this.limits = limits;
        this.listenRetry = listenRetry;
    }

    public OnionEngine engine() {
        return engine;
    }

    public RelayPolicy policy() {
        return policy;
    }

    public RelayLimits limits() {
        return limits;
    }

    /** The defaults requests get for the fields they leave out. */
    public RelayRequests.Defaults defaults() {
        return defaults;
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
            if (relays.size() + creating.size() >= limits.maxRelays()) {
                throw new RelayException(
                        RelayException.Kind.LIMIT,
                        null,
                        "at most " + limits.maxRelays() + " relays may exist (onion.limits.max-relays)");
            }
            validate(spec);
            creating.put(spec.name(), id);
        }
        Relay relay;
        try {
            hold(id, spec);
            List<PreparedLayer> ingress = prepare(Side.INGRESS, spec);
            List<PreparedLayer> egress = prepare(Side.EGRESS, spec);
            Instant createdAt = Instant.now();
            relay = bindNamingTheHolder(id, spec, ingress, egress, createdAt);
            try {
                store.save(new StoredRelay(id, createdAt, relay.spec()));
            } catch (RuntimeException e) {
                relay.stop();
                throw e;
            }
        } catch (RuntimeException e) {
            contexts.keyMaterial().release(id);
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
        LOG.log(
                System.Logger.Level.INFO,
                "relay {0} ({1}) listening on {2}, target {3}, depth {4}/{5}",
                spec.name(),
                id,
                engine.listenAddress(relay.spec()),
                spec.target(),
                spec.ingress().size(),
                spec.egress().size());
        return relay;
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
            return openDeclared0(spec);
        }
    }

    private Relay openDeclared0(RelaySpec spec) {
        String id = "config-" + spec.name();
        Instant createdAt = Instant.now();
        Relay relay;
        try {
            synchronized (lock) {
                validate(spec);
            }
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
            declared.add(id);
            put(relay);
            return relay;
        }
        hold(id, spec);
        try {
            relay = bind(id, spec, prepare(Side.INGRESS, spec), prepare(Side.EGRESS, spec), createdAt);
        } catch (RelayException e) {
            relay = failed(id, spec, createdAt, e.getMessage(), "declared relay {0} could not be opened: {1}");
        }
        declared.add(id);
        put(relay);
        return relay;
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
                if (!declaredNameClash(stored)) {
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
            long mark;
            synchronized (lock) {
                mark = writes.mark();
            }
            List<StoredRelay> stored = store.load();
            StoreSync plan;
            synchronized (lock) {
                Set<String> unsettled = writes.since(mark);
                Set<String> skip = new LinkedHashSet<>(unsettled);
                for (StoredRelay relay : stored) {
                    if (relays.get(relay.id()) == null && skipped.stream().anyMatch(s -> s.id().equals(relay.id()))) {
                        skip.add(relay.id());
                    } else if (declaredNameClash(relay)) {
                        skip.add(relay.id());
                    }
                }
                Map<String, RelaySpec> running = new LinkedHashMap<>();
                relays.values().stream()
                        .filter(relay -> !declared.contains(relay.id()) && !unsettled.contains(relay.id()))
                        .forEach(relay -> running.put(relay.id(), relay.spec()));
                plan = StoreSync.diff(running, stored, skip);
                writes.settledUpTo(mark);
            }
            for (String id : plan.close()) {
                closeLocally(id, "it was deleted from the store");
            }
            for (StoredRelay relay : plan.replace()) {
                closeLocally(relay.id(), "its stored spec changed");
                openStored(relay);
            }
            for (StoredRelay relay : plan.open()) {
                openStored(relay);
            }
            return plan;
        }
    }

    private boolean declaredNameClash(StoredRelay stored) {
        RelaySpec spec = stored.spec();
        Optional<Relay> clash = find(spec.name()).filter(other -> declared.contains(other.id()));
        if (clash.isEmpty()) {
            return false;
        }
        if (skipped.stream().noneMatch(s -> s.id().equals(stored.id()))) {
            String reason = "the name '" + spec.name()
                    + "' is declared in configuration (onion.relays); the stored relay is kept in the store, not loaded";
            skipped.add(new SkippedRelay(stored.id(), spec.name(), reason));
            LOG.log(System.Logger.Level.WARNING, "relay {0} ({1}) not loaded: {2}", spec.name(), stored.id(), reason);
        }
        return true;
    }

    private void openStored(StoredRelay stored) {
        RelaySpec spec = stored.spec();
        hold(stored.id(), spec);
        Relay relay;
        try {
            relay = bind(
                    stored.id(), spec, prepare(Side.INGRESS, spec), prepare(Side.EGRESS, spec), stored.createdAt());
            LOG.log(
                    System.Logger.Level.INFO,
                    "relay {0} ({1}) listening on {2}, from the store",
                    spec.name(),
                    stored.id(),
                    engine.listenAddress(relay.spec()));
        } catch (RelayException e) {
            relay = failed(
                    stored.id(), spec, stored.createdAt(), e.getMessage(), "relay {0} could not be restored: {1}");
        }
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
        stop(relay);
        contexts.keyMaterial().release(id);
        LOG.log(
                System.Logger.Level.INFO,
                "relay {0} ({1}) closed: {2}",
                relay.spec().name(),
                id,
                why);
    }

    /** Stored relays that were not loaded at start (their name is declared in configuration), with why. */
    public List<SkippedRelay> skipped() {
        return List.copyOf(skipped);
    }

    /** Whether a relay was declared in configuration (and so cannot be deleted or replaced over the API). */
    public boolean isDeclared(Relay relay) {
        return declared.contains(relay.id());
    }

    private void hold(String id, RelaySpec spec) {
        Set<String> names = new LinkedHashSet<>();
        for (LayerSpec layer : allLayers(spec)) {
            if (layer.credential() != null) {
                names.add(layer.credential());
            }
            if (layer.trust() != null && !LayerSpec.SYSTEM_TRUST.equals(layer.trust())) {
                names.add(layer.trust());
            }
        }
        contexts.keyMaterial().hold(id, spec.name(), names);
    }

    private Relay failed(String id, RelaySpec spec, Instant createdAt, String why, String logPattern) {
        LOG.log(System.Logger.Level.WARNING, logPattern, spec.name(), why);
        Relay relay = engine.failed(id, spec, createdAt, why);
        scheduleRetry(relay, why, 1);
        return relay;
    }

    private void scheduleRetry(Relay relay, String why, int retry) {
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
     * Stops a relay taken out of {@link #relays}. Under the relay's own monitor, as a retry's reopen is: a retry that
     * found the relay still registered finishes its bind first and the stop then closes that listener too.
     */
    private static void stop(Relay relay) {
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
        if (relays.get(relay.id()) != relay || relay.state() != RelayState.FAILED) {
            return; // deleted or replaced meanwhile
        }
        RelaySpec spec = relay.spec();
        try {
            List<PreparedLayer> ingress = prepare(Side.INGRESS, spec);
            List<PreparedLayer> egress = prepare(Side.EGRESS, spec);
            try {
                engine.reopen(relay, ingress, egress);
            } catch (IOException e) {
                throw new RelayException(
                        RelayException.Kind.CONFLICT,
                        "listen.port",
                        "cannot listen on " + engine.listenAddress(spec) + ": " + e.getMessage());
            }
        } catch (RelayException e) {
            LOG.log(System.Logger.Level.DEBUG, "relay {0} still cannot open: {1}", spec.name(), e.getMessage());
            scheduleRetry(relay, e.getMessage(), retry + 1);
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

    /**
     * A create's bind. Its port was free of relays when it was checked, but a store sync may have opened another
     * instance's relay on it since (syncs bind outside the registry's lock): the refusal then names that relay, as the
     * check would have, once the sync has put it in place.
     */
    private Relay bindNamingTheHolder(
            String id, RelaySpec spec, List<PreparedLayer> ingress, List<PreparedLayer> egress, Instant createdAt) {
        try {
            return bind(id, spec, ingress, egress, createdAt);
        } catch (RelayException e) {
            if (e.kind() != RelayException.Kind.CONFLICT || spec.listen().port() == 0) {
                throw e;
            }
            synchronized (syncLock) {
                synchronized (lock) {
                    for (Relay other : relays.values()) {
                        if (other.spec().listen().port() == spec.listen().port()
                                && other.state() == RelayState.LISTENING) {
                            throw new RelayException(
                                    RelayException.Kind.CONFLICT,
                                    "listen.port",
                                    "port " + spec.listen().port() + " is used by relay '"
                                            + other.spec().name() + "'");
                        }
                    }
                }
            }
            throw e;
        }
    }

    private Relay bind(
            String id, RelaySpec spec, List<PreparedLayer> ingress, List<PreparedLayer> egress, Instant createdAt) {
        try {
            return engine.open(id, spec, ingress, egress, createdAt);
        } catch (BindException e) {
            throw new RelayException(
                    RelayException.Kind.CONFLICT,
                    "listen.port",
                    "cannot listen on " + engine.listenAddress(spec) + ": " + e.getMessage());
        } catch (IOException e) {
            throw new RelayException(
                    RelayException.Kind.INVALID,
                    "listen.host",
                    "cannot listen on " + engine.listenAddress(spec) + ": " + e.getMessage());
        }
    }

    private void validate(RelaySpec spec) {
        if (!NAME.matcher(spec.name()).matches()) {
            throw new RelayException(
                    RelayException.Kind.INVALID,
                    "name",
                    "a relay name is 1 to 63 letters, digits, '.', '_' or '-', starting with a letter or digit");
        }
        if (creating.containsKey(spec.name())) {
            throw new RelayException(
                    RelayException.Kind.CONFLICT, "name", "a relay named '" + spec.name() + "' is being created");
        }
        Optional<Relay> sameName = find(spec.name());
        if (sameName.isPresent()) {
            throw new RelayException(
                    RelayException.Kind.CONFLICT,
                    "name",
                    isDeclared(sameName.get())
                            ? "a relay named '" + spec.name()
                                    + "' is declared in configuration (onion.relays); it cannot be replaced over the API"
                            : "a relay named '" + spec.name() + "' exists already");
        }
        if (!policy.allowsListen(spec.listen().host(), spec.listen().port())) {
            throw new RelayException(
                    RelayException.Kind.FORBIDDEN,
                    "listen",
                    "policy does not allow listening on " + spec.listen()
                            + " (onion.policy.listen-hosts, onion.policy.listen-ports)");
        }
        List<Endpoint> targets = spec.target().endpoints();
        for (int i = 0; i < targets.size(); i++) {
            // Proxy-mode destinations have no endpoints here: each is checked when its tunnel asks for it.
            Endpoint target = targets.get(i);
            String field = targets.size() == 1 ? "target" : "target.targets[" + i + "]";
            if (!policy.allowsTargetHost(target.host())) {
                throw new RelayException(
                        RelayException.Kind.FORBIDDEN,
                        field + ".host",
                        "policy does not allow the target " + target.host()
                                + " (onion.policy.target-hosts; link-local and metadata addresses must be listed explicitly)");
            }
            if (!policy.allowsTargetPort(target.port())) {
                throw new RelayException(
                        RelayException.Kind.FORBIDDEN,
                        field + ".port",
                        "policy does not allow target port " + target.port() + " (onion.policy.target-ports)");
            }
        }
        Endpoint via = spec.upstream().via();
        if (via != null) {
            checkProxyHop("target.via", via);
        }
        for (int i = 0; i < spec.egress().size(); i++) {
            String hop = spec.egress().get(i).connect();
            if (hop != null) {
                checkProxyHop("egress[" + i + "].connect", HostPort.parse(hop));
            }
        }
        if (spec.listen().port() != 0) {
            for (Relay other : relays.values()) {
                if (other.spec().listen().port() == spec.listen().port() && other.state() == RelayState.LISTENING) {
                    throw new RelayException(
                            RelayException.Kind.CONFLICT,
                            "listen.port",
                            "port " + spec.listen().port() + " is used by relay '"
                                    + other.spec().name() + "'");
                }
            }
        }
        checkDepth("ingress", spec.ingress().size(), spec.options().minIngressDepth());
        checkDepth("egress", spec.egress().size(), spec.options().minEgressDepth());
        if (spec.options().maxTunnels() > limits.maxTunnelsPerRelay()) {
            throw new RelayException(
                    RelayException.Kind.LIMIT,
                    "options.maxTunnels",
                    "at most " + limits.maxTunnelsPerRelay()
                            + " tunnels per relay (onion.limits.max-tunnels-per-relay)");
        }
        checkVerify("ingress", spec.ingress());
        checkVerify("egress", spec.egress());
    }

    /**
     * A proxy the relay goes through (a plain proxy reached first, or the destination asked for through a proxy hop)
     * passes the same host and port policy as a target: a proxy must not become a way around it.
     */
    private void checkProxyHop(String field, Endpoint hop) {
        if (!policy.allowsTargetHost(hop.host())) {
            throw new RelayException(
                    RelayException.Kind.FORBIDDEN,
                    field,
                    "policy does not allow " + hop.host()
                            + " (onion.policy.target-hosts; link-local and metadata addresses must be listed explicitly)");
        }
        if (!policy.allowsTargetPort(hop.port())) {
            throw new RelayException(
                    RelayException.Kind.FORBIDDEN,
                    field,
                    "policy does not allow port " + hop.port() + " (onion.policy.target-ports)");
        }
    }

    private void checkDepth(String side, int depth, int minDepth) {
        checkMaxDepth(side, depth, side);
        if (minDepth < 0 || minDepth > depth) {
            throw new RelayException(
                    RelayException.Kind.INVALID,
                    "options.minDepth." + side,
                    "must be between 0 and the " + side + " depth " + depth);
        }
    }

    /** A side deeper than the maximum depth: LIMIT. */
    private void checkMaxDepth(String side, int depth, @Nullable String field) {
        if (depth > limits.maxDepth()) {
            throw new RelayException(
                    RelayException.Kind.LIMIT,
                    field,
                    "at most " + limits.maxDepth() + " layers per side (onion.limits.max-depth)");
        }
    }

    private void checkVerify(String side, List<LayerSpec> layers) {
        for (int i = 0; i < layers.size(); i++) {
            checkVerify(side + "[" + i + "].verify", layers.get(i));
        }
    }

    /** A layer that would accept any peer although it checks peers: FORBIDDEN unless policy allows it. */
    private void checkVerify(String field, LayerSpec layer) {
        if (layer.verify() == Verification.NONE && layer.verifiesPeerWhenAsked() && !policy.allowInsecureVerify()) {
            throw new RelayException(
                    RelayException.Kind.FORBIDDEN,
                    field,
                    "verify 'none' needs onion.policy.allow-insecure-verify=true");
        }
    }

    /** An open tunnel of a relay. */
    public Tunnel tunnel(String relay, String tunnel) {
        return get(relay)
                .tunnel(tunnel)
                .orElseThrow(() -> new RelayException(
                        RelayException.Kind.NOT_FOUND,
                        null,
                        "no open tunnel '" + tunnel + "' on relay '" + relay + "'"));
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
        Relay found = get(relay);
        Tunnel live = tunnel(relay, tunnel);
        String refusal = live.pushRefusal(side);
        LayerStack stack = live.stack(side);
        if (refusal != null || stack == null) {
            throw new RelayException(RelayException.Kind.CONFLICT, null, refusal);
        }
        if (request.connect() != null) {
            // A CONNECT through a hop is part of building the tunnel; on a live tunnel the bytes already flowing would
            // have to stop for the proxy's answer and could be taken for it.
            throw InvalidRequestException.of(
                    "connect",
                    "a proxy hop is asked for its tunnel only while the tunnel is set up; a layer pushed on a live"
                            + " tunnel cannot carry connect");
        }
        List<LayerStatus> layers = stack.status();
        int index = layers.size();
        checkMaxDepth(side.label(), index + 1, null);
        Endpoint firstTarget = found.spec().target().first();
        String defaultServerName = side == Side.EGRESS && index == 0 && firstTarget != null ? firstTarget.host() : null;
        LayerSpec spec = RelayRequests.toLayer(
                request, side, index, defaultServerName, found.spec().options().handshakeTimeout(), defaults.profile());
        if (layers.stream().anyMatch(layer -> layer.name().equals(spec.name()))) {
            throw InvalidRequestException.of(
                    "name",
                    "a live " + side.label() + " layer is named '" + spec.name()
                            + "' already; names label status and metrics, so they must differ");
        }
        checkVerify("verify", spec);
        // Pushed at the live depth, at or above the minimum depth: a close_notify can only pop it.
        PreparedLayer prepared =
                prepare(side, List.of(spec), index, stack.minDepth()).get(0);
        // Checked again on the tunnel's event loop, where the push happens: a concurrent push or pop may have
        // changed the stack since the checks above.
        return await(live.push(side, prepared, new PushRules(limits.maxDepth(), index)));
    }

    /**
     * Pops the innermost layer of one side of a live tunnel (stopTLS): close_notify goes out, the TCP connection stays.
     * Refused (CONFLICT) at the side's minimum depth, so that nobody can downgrade a tunnel by popping.
     */
    public void pop(String relay, String tunnel, Side side) {
        await(tunnel(relay, tunnel).popLocal(side));
    }

    private static <T> T await(io.netty.util.concurrent.Future<T> future) {
        try {
            return future.get(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new RelayException(RelayException.Kind.UNAVAILABLE, null, "interrupted while waiting for the tunnel");
        } catch (TimeoutException e) {
            throw new RelayException(
                    RelayException.Kind.UNAVAILABLE, null, "the tunnel's event loop did not answer in time");
        } catch (ExecutionException e) {
            if (e.getCause() instanceof RelayException refused
                    && refused.kind() == RelayException.Kind.INVALID
                    && refused.field() != null) {
                // Answered as the same refusal found before the event loop is.
                throw InvalidRequestException.of(refused.field(), refused.getMessage());
            }
            if (e.getCause() instanceof RelayException refused) {
                throw refused;
            }
            if (e.getCause() instanceof BelowMinimumDepthException below) {
                throw new RelayException(RelayException.Kind.CONFLICT, "side", below.getMessage());
            }
            throw new RelayException(
                    RelayException.Kind.CONFLICT, null, e.getCause().getMessage());
        }
    }

    /** Builds the TLS context of each configured layer of one side of {@code spec}; see {@link #prepare(Side, List, int, int)}. */
    public List<PreparedLayer> prepare(Side side, RelaySpec spec) {
        return side == Side.INGRESS
                ? prepare(side, spec.ingress(), 0, spec.options().minIngressDepth())
                : prepare(side, spec.egress(), 0, spec.options().minEgressDepth());
    }

    /**
     * Builds the TLS context of each layer, the first at {@code firstIndex} of a side whose minimum depth is
     * {@code minDepth}, on the engine the provider choice gives that position (see {@code ProviderChoice}); errors name
     * the layer field at fault.
     */
    public List<PreparedLayer> prepare(Side side, List<LayerSpec> layers, int firstIndex, int minDepth) {
        List<PreparedLayer> prepared = new ArrayList<>();
        for (int i = 0; i < layers.size(); i++) {
            try {
                prepared.add(contexts.prepare(layers.get(i), firstIndex + i, minDepth));
            } catch (LayerConfigurationException e) {
                throw new RelayException(
                        RelayException.Kind.INVALID, side.label() + "[" + i + "]." + e.field(), e.getMessage());
            }
        }
        return prepared;
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
        if (isDeclared(relay)) {
            throw new RelayException(
                    RelayException.Kind.CONFLICT,
                    null,
                    "relay '" + relay.spec().name()
                            + "' is declared in configuration (onion.relays) and cannot be deleted over the API;"
                            + " remove it from the configuration instead");
        }
        // The store first, outside the registry's lock: if it refuses (unreachable), the relay keeps serving and
        // nothing is half-done, and while it is slow no other call waits.
        store.delete(relay.id());
        synchronized (lock) {
            if (!relays.remove(relay.id(), relay)) {
                return; // a concurrent delete or store sync took it out and stops it
            }
            writes.wrote(relay.id());
        }
        stop(relay);
        contexts.keyMaterial().release(relay.id());
        LOG.log(
                System.Logger.Level.INFO,
                "relay {0} ({1}) deleted",
                relay.spec().name(),
                relay.id());
    }

    /**
     * Rebuilds the TLS contexts of every listening relay whose layers use {@code credentialName}, after its key material
     * changed in the credential store (file credentials rotated on disk). Tunnels accepted afterwards use the new
     * material; open tunnels keep the contexts they started with. A relay whose contexts cannot be rebuilt keeps its
     * current ones and is named in the result's {@code failed} map, so the caller can report it.
     *
     * @return the relays refreshed, and those that kept their old contexts with the reason
     */
    public Refresh refresh(String credentialName) {
        synchronized (syncLock) {
            return refresh0(credentialName);
        }
    }

    private Refresh refresh0(String credentialName) {
        List<String> refreshed = new ArrayList<>();
        Map<String, String> failed = new LinkedHashMap<>();
        for (Relay relay : list()) {
            RelaySpec spec = relay.spec();
            if (relay.state() != RelayState.LISTENING || !uses(spec, credentialName)) {
                continue;
            }
            try {
                relay.replaceLayers(prepare(Side.INGRESS, spec), prepare(Side.EGRESS, spec));
                refreshed.add(spec.name());
            } catch (RelayException e) {
                failed.put(spec.name(), e.getMessage());
                LOG.log(
                        System.Logger.Level.WARNING,
                        "relay {0} keeps its TLS contexts: credential {1} changed but {2}",
                        spec.name(),
                        credentialName,
                        e.getMessage());
            }
        }
        if (!refreshed.isEmpty()) {
            LOG.log(
                    System.Logger.Level.INFO,
                    "credential {0} changed: new tunnels of relays {1} use it",
                    credentialName,
                    refreshed);
        }
        return new Refresh(refreshed, failed);
    }

    /** What {@link #refresh} did: relays now on the new material, and relays that kept the old one, with why. */
    public record Refresh(List<String> refreshed, Map<String, String> failed) {
        public Refresh {
            refreshed = List.copyOf(refreshed);
            failed = Collections.unmodifiableMap(new LinkedHashMap<>(failed));
        }
    }

    private static boolean uses(RelaySpec spec, String credentialName) {
        for (LayerSpec layer : allLayers(spec)) {
            if (credentialName.equals(layer.credential()) || credentialName.equals(layer.trust())) {
                return true;
            }
        }
        return false;
    }

    /** Names of the relays whose layers use a credential (as identity or as trust). */
    public Set<String> relaysUsing(String credentialName) {
        Set<String> users = new LinkedHashSet<>();
        for (Relay relay : list()) {
            for (LayerSpec layer : allLayers(relay.spec())) {
                if (credentialName.equals(layer.credential()) || credentialName.equals(layer.trust())) {
                    users.add(relay.spec().name());
                }
            }
        }
        return users;
    }

    private static List<LayerSpec> allLayers(RelaySpec spec) {
        List<LayerSpec> all = new ArrayList<>(spec.ingress());
        all.addAll(spec.egress());
        return all;
    }

    @Override
    public void close() {
        retries.shutdownNow();
        relays.values().forEach(Relay::stop);
        engine.close();
    }
}
