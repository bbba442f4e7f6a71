package dev.onionrelay.registry;

import dev.onionrelay.layer.LayerSpec;
import dev.onionrelay.layer.Verification;
import dev.onionrelay.relay.Endpoint;
import dev.onionrelay.relay.RelayException;
import dev.onionrelay.relay.RelaySpec;
import dev.onionrelay.relay.upstream.HostPort;
import java.util.List;
import java.util.Optional;
import org.jspecify.annotations.Nullable;

/**
 * The rules a relay spec (or a layer pushed on a live tunnel) must pass against policy and limits before anything is
 * bound or stored. Apart from the registry because the rules are pure: given the policy, the limits and what the
 * registry says about the relays that run ({@link Running}, for the name and port clashes), the answer depends on the
 * spec alone, so each rule is tested without an engine ({@code SpecRulesTest}). The registry calls {@link #validate}
 * under its lock, so that the clash checks and the name's reservation are one step.
 */
final class SpecRules {

    /** Who has a relay name: nobody, a create under way, a relay created over the API or from the store, or configuration. */
    enum NameUse {
        FREE,
        CREATING,
        TAKEN,
        DECLARED
    }

    /** What the clash checks need to know about the relays of the registry. */
    interface Running {
        /** Who has {@code name}. */
        NameUse nameUse(String name);

        /** The name of the relay listening on {@code port}, if one is. */
        Optional<String> listeningOn(int port);
    }

    private final RelayPolicy policy;
    private final RelayLimits limits;

    SpecRules(RelayPolicy policy, RelayLimits limits) {
        this.policy = policy;
        this.limits = limits;
    }

    /** Refuses (LIMIT) one relay more when {@code existing} relays exist or are being created. */
    void checkRoom(int existing) {
        if (existing >= limits.maxRelays()) {
            throw new RelayException(
                    RelayException.Kind.LIMIT,
                    null,
                    "at most " + limits.maxRelays() + " relays may exist (onion.limits.max-relays)");
        }
    }

    /**
     * Checks a relay before it is created or opened, in a fixed order (the first fault found is the answer): the name's
     * form and clashes, the listen and target policy, proxy hops, the listen port's clash, depths, the tunnel limit and
     * insecure verification.
     *
     * @throws RelayException naming the field at fault
     */
    void validate(RelaySpec spec, Running running) {
        if (!RelayRegistry.NAME.matcher(spec.name()).matches()) {
            throw new RelayException(
                    RelayException.Kind.INVALID,
                    "name",
                    "a relay name is 1 to 63 letters, digits, '.', '_' or '-', starting with a letter or digit");
        }
        NameUse use = running.nameUse(spec.name());
        if (use == NameUse.CREATING) {
            throw new RelayException(
                    RelayException.Kind.CONFLICT, "name", "a relay named '" + spec.name() + "' is being created");
        }
        if (use == NameUse.TAKEN || use == NameUse.DECLARED) {
            throw new RelayException(
                    RelayException.Kind.CONFLICT,
                    "name",
                    use == NameUse.DECLARED
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
        checkPort(spec, running);
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
    void checkMaxDepth(String side, int depth, @Nullable String field) {
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
    void checkVerify(String field, LayerSpec layer) {
        if (layer.verify() == Verification.NONE && layer.verifiesPeerWhenAsked() && !policy.allowInsecureVerify()) {
            throw new RelayException(
                    RelayException.Kind.FORBIDDEN,
                    field,
                    "verify 'none' needs onion.policy.allow-insecure-verify=true");
        }
    }

    /** A listen port is one relay's: CONFLICT naming the relay that listens on it. */
    void checkPort(RelaySpec spec, Running running) {
        if (spec.listen().port() != 0) {
            Optional<String> other = running.listeningOn(spec.listen().port());
            if (other.isPresent()) {
                throw new RelayException(
                        RelayException.Kind.CONFLICT,
                        "listen.port",
                        "port " + spec.listen().port() + " is used by relay '" + other.get() + "'");
            }
        }
    }
}
