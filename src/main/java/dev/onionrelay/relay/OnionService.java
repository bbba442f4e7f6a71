package dev.onionrelay.relay;

import dev.onionrelay.layer.LayerConfigurationException;
import dev.onionrelay.layer.LayerSpec;
import dev.onionrelay.layer.PreparedLayer;
import dev.onionrelay.layer.Side;
import dev.onionrelay.layer.TlsContexts;
import dev.onionrelay.layer.Verification;
import java.io.IOException;
import java.net.BindException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
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
 */
public final class OnionService implements AutoCloseable {

    private static final System.Logger LOG = System.getLogger(OnionService.class.getName());
    public static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,62}");

    private final OnionEngine engine;
    private final TlsContexts contexts;
    private final RelayStore store;
    private final RelayPolicy policy;
    private final RelayLimits limits;
    private final Map<String, Relay> relays = new ConcurrentHashMap<>();

    public OnionService(
            OnionEngine engine, TlsContexts contexts, RelayStore store, RelayPolicy policy, RelayLimits limits) {
        this.engine = engine;
        this.contexts = contexts;
        this.store = store;
        this.policy = policy;
        this.limits = limits;
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

    /** Creates, opens and persists a relay. */
    public synchronized Relay create(RelaySpec spec) {
        if (relays.size() >= limits.maxRelays()) {
            throw new RelayException(
                    RelayException.Kind.LIMIT,
                    null,
                    "at most " + limits.maxRelays() + " relays may exist (onion.limits.max-relays)");
        }
        validate(spec);
        List<PreparedLayer> ingress = prepare(Side.INGRESS, spec.ingress());
        List<PreparedLayer> egress = prepare(Side.EGRESS, spec.egress());
        String id = UUID.randomUUID().toString();
        Instant createdAt = Instant.now();
        Relay relay = bind(id, spec, ingress, egress, createdAt);
        try {
            store.save(new StoredRelay(id, createdAt, relay.spec()));
        } catch (RuntimeException e) {
            relay.stop();
            throw e;
        }
        relays.put(id, relay);
        LOG.log(
                System.Logger.Level.INFO,
                "relay {0} ({1}) listening on {2}, target {3}, depth {4}/{5}",
                spec.name(),
                id,
                relay.spec().listen(),
                spec.target(),
                spec.ingress().size(),
                spec.egress().size());
        return relay;
    }

    /**
     * Opens a relay declared in configuration: validated like an API one, never persisted (configuration brings it
     * back at every start), with a stable id derived from its name. One that cannot open (port taken) is kept as
     * {@link RelayState#FAILED} with the reason, so that status and health show it.
     */
    public synchronized Relay openDeclared(RelaySpec spec) {
        String id = "config-" + spec.name();
        Instant createdAt = Instant.now();
        Relay relay;
        try {
            validate(spec);
            relay = bind(
                    id, spec, prepare(Side.INGRESS, spec.ingress()), prepare(Side.EGRESS, spec.egress()), createdAt);
        } catch (RelayException e) {
            if (e.kind() == RelayException.Kind.CONFLICT && "name".equals(e.field())) {
                throw e;
            }
            relay = engine.failed(id, spec, createdAt, e.getMessage());
            LOG.log(
                    System.Logger.Level.WARNING,
                    "declared relay {0} could not be opened: {1}",
                    spec.name(),
                    e.getMessage());
        }
        relays.put(id, relay);
        return relay;
    }

    /**
     * Opens the relays saved by earlier runs, with their ids and ports. One that cannot come back (port taken,
     * credential gone) is kept as {@link RelayState#FAILED} with the reason.
     */
    public synchronized void restore() {
        for (StoredRelay stored : store.load()) {
            Relay relay;
            try {
                relay = bind(
                        stored.id(),
                        stored.spec(),
                        prepare(Side.INGRESS, stored.spec().ingress()),
                        prepare(Side.EGRESS, stored.spec().egress()),
                        stored.createdAt());
            } catch (RelayException e) {
                relay = engine.failed(stored.id(), stored.spec(), stored.createdAt(), e.getMessage());
                LOG.log(
                        System.Logger.Level.WARNING,
                        "relay {0} could not be restored: {1}",
                        stored.spec().name(),
                        e.getMessage());
            }
            relays.put(relay.id(), relay);
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
                    "cannot listen on " + spec.listen() + ": " + e.getMessage());
        } catch (IOException e) {
            throw new RelayException(
                    RelayException.Kind.INVALID,
                    "listen.host",
                    "cannot listen on " + spec.listen() + ": " + e.getMessage());
        }
    }

    private void validate(RelaySpec spec) {
        if (!NAME.matcher(spec.name()).matches()) {
            throw new RelayException(
                    RelayException.Kind.INVALID,
                    "name",
                    "a relay name is 1 to 63 letters, digits, '.', '_' or '-', starting with a letter or digit");
        }
        if (find(spec.name()).isPresent()) {
            throw new RelayException(
                    RelayException.Kind.CONFLICT, "name", "a relay named '" + spec.name() + "' exists already");
        }
        if (!policy.allowsListen(spec.listen().host(), spec.listen().port())) {
            throw new RelayException(
                    RelayException.Kind.FORBIDDEN,
                    "listen",
                    "policy does not allow listening on " + spec.listen()
                            + " (onion.policy.listen-hosts, onion.policy.listen-ports)");
        }
        if (!policy.allowsTargetHost(spec.target().host())) {
            throw new RelayException(
                    RelayException.Kind.FORBIDDEN,
                    "target.host",
                    "policy does not allow the target " + spec.target().host()
                            + " (onion.policy.target-hosts; link-local and metadata addresses must be listed explicitly)");
        }
        if (!policy.allowsTargetPort(spec.target().port())) {
            throw new RelayException(
                    RelayException.Kind.FORBIDDEN,
                    "target.port",
                    "policy does not allow target port " + spec.target().port() + " (onion.policy.target-ports)");
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

    private void checkDepth(String side, int depth, int minDepth) {
        if (depth > limits.maxDepth()) {
            throw new RelayException(
                    RelayException.Kind.LIMIT,
                    side,
                    "at most " + limits.maxDepth() + " layers per side (onion.limits.max-depth)");
        }
        if (minDepth < 0 || minDepth > depth) {
            throw new RelayException(
                    RelayException.Kind.INVALID,
                    "options.minDepth." + side,
                    "must be between 0 and the " + side + " depth " + depth);
        }
    }

    private void checkVerify(String side, List<LayerSpec> layers) {
        for (int i = 0; i < layers.size(); i++) {
            LayerSpec layer = layers.get(i);
            if (layer.verify() == Verification.NONE && layer.verifiesPeerWhenAsked() && !policy.allowInsecureVerify()) {
                throw new RelayException(
                        RelayException.Kind.FORBIDDEN,
                        side + "[" + i + "].verify",
                        "verify 'none' needs onion.policy.allow-insecure-verify=true");
            }
        }
    }

    /** Builds the TLS context of each layer; errors name the layer field at fault. */
    public List<PreparedLayer> prepare(Side side, List<LayerSpec> layers) {
        List<PreparedLayer> prepared = new ArrayList<>();
        for (int i = 0; i < layers.size(); i++) {
            try {
                prepared.add(contexts.prepare(layers.get(i)));
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

    /** Stops a relay (listener and tunnels) and forgets it. */
    public synchronized void delete(String idOrName) {
        Relay relay = get(idOrName);
        relay.stop();
        store.delete(relay.id());
        relays.remove(relay.id());
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
    public synchronized Refresh refresh(String credentialName) {
        List<String> refreshed = new ArrayList<>();
        Map<String, String> failed = new LinkedHashMap<>();
        for (Relay relay : list()) {
            RelaySpec spec = relay.spec();
            if (relay.state() != RelayState.LISTENING || !uses(spec, credentialName)) {
                continue;
            }
            try {
                relay.replaceLayers(prepare(Side.INGRESS, spec.ingress()), prepare(Side.EGRESS, spec.egress()));
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
        relays.values().forEach(Relay::stop);
        engine.close();
    }
}
