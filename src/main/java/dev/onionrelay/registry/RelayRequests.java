package dev.onionrelay.registry;

import dev.onionrelay.layer.ClientAuthMode;
import dev.onionrelay.layer.InvalidSpecException;
import dev.onionrelay.layer.LayerDefaults;
import dev.onionrelay.layer.LayerSpec;
import dev.onionrelay.layer.Role;
import dev.onionrelay.layer.Side;
import dev.onionrelay.layer.SpecProblem;
import dev.onionrelay.layer.TlsProfile;
import dev.onionrelay.layer.TlsSettings;
import dev.onionrelay.layer.Verification;
import dev.onionrelay.relay.Endpoint;
import dev.onionrelay.relay.HalfClose;
import dev.onionrelay.relay.RelayOptions;
import dev.onionrelay.relay.RelaySpec;
import dev.onionrelay.relay.target.TargetSpec;
import dev.onionrelay.relay.upstream.HostPort;
import dev.onionrelay.relay.upstream.ProxyProtocol;
import dev.onionrelay.relay.upstream.Upstream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * Turns requests into engine specs: applies API.md's defaults and names every invalid field. Checks that need the
 * registry (credentials exist, names are free, policy) happen in {@code RelayRegistry}.
 */
public final class RelayRequests {

    /** Defaults that come from configuration rather than from API.md. */
    public record Defaults(
            int maxTunnels,
            Duration handshakeTimeout,
            Duration connectTimeout,
            Duration idleTimeout,
            TlsProfile profile) {

        public Defaults(int maxTunnels, Duration handshakeTimeout, Duration connectTimeout, Duration idleTimeout) {
            this(maxTunnels, handshakeTimeout, connectTimeout, idleTimeout, TlsProfile.DEFAULT);
        }

        /**
         * The built-in defaults under these limits: a relay that names no maxTunnels gets 1024, capped by the per-relay
         * maximum so that omitting the field never hits the limit.
         */
        public static Defaults standard(RelayLimits limits) {
            return new Defaults(
                    Math.min(1024, limits.maxTunnelsPerRelay()),
                    Duration.ofSeconds(10),
                    Duration.ofSeconds(5),
                    Duration.ofMinutes(5),
                    TlsProfile.DEFAULT);
        }
    }

    private RelayRequests() {}

    public static RelaySpec toSpec(RelayRequest request, Defaults defaults) {
        List<FieldProblem> errors = new ArrayList<>();
        String name = request.name();
        if (name == null || name.isBlank()) {
            errors.add(new FieldProblem("name", "is required"));
        }
        RelayRequest.EndpointRequest listen = request.listen();
        String listenHost = listen != null && listen.host() != null ? listen.host() : "127.0.0.1";
        int listenPort = listen != null && listen.port() != null ? listen.port() : 0;
        if (listenPort < 0 || listenPort > 65535) {
            errors.add(new FieldProblem("listen.port", "must be between 0 (any free port) and 65535"));
        }
        TargetSpec target = target(errors, request.target());
        Upstream upstream = upstream(errors, request.target());
        RelayRequest.OptionsRequest options = request.options();
        Duration handshakeTimeout = duration(
                errors,
                "options.handshakeTimeout",
                options != null ? options.handshakeTimeout() : null,
                defaults.handshakeTimeout(),
                TlsSettings.MAX_HANDSHAKE_TIMEOUT);
        Duration connectTimeout = duration(
                errors,
                "options.connectTimeout",
                options != null ? options.connectTimeout() : null,
                defaults.connectTimeout(),
                RelayOptions.MAX_CONNECT_TIMEOUT);
        Duration idleTimeout = duration(
                errors,
                "options.idleTimeout",
                options != null ? options.idleTimeout() : null,
                defaults.idleTimeout(),
                RelayOptions.MAX_IDLE_TIMEOUT);
        HalfClose halfClose = RelayOptions.DEFAULT_HALF_CLOSE;
        if (options != null && options.halfClose() != null) {
            halfClose = HalfClose.named(options.halfClose());
            if (halfClose == null || !halfClose.label().equals(options.halfClose())) {
                errors.add(new FieldProblem("options.halfClose", "must be 'propagate' or 'hold'"));
            }
        }
        Duration halfCloseTimeout = duration(
                errors,
                "options.halfCloseTimeout",
                options != null ? options.halfCloseTimeout() : null,
                RelayOptions.DEFAULT_HALF_CLOSE_TIMEOUT,
                RelayOptions.MAX_IDLE_TIMEOUT);
        int maxTunnels = options != null && options.maxTunnels() != null ? options.maxTunnels() : defaults.maxTunnels();
        if (maxTunnels < 1) {
            errors.add(new FieldProblem("options.maxTunnels", "must be at least 1"));
        }
        Endpoint firstTarget = target != null ? target.first() : null;
        String defaultServerName = firstTarget != null ? firstTarget.host() : null;
        List<LayerSpec> ingress =
                layers(errors, Side.INGRESS, request.ingress(), null, handshakeTimeout, defaults.profile());
        List<LayerSpec> egress =
                layers(errors, Side.EGRESS, request.egress(), defaultServerName, handshakeTimeout, defaults.profile());
        if (target != null
                && target.isProxy()
                && !egress.isEmpty()
                && egress.get(0).role() == Role.CLIENT
                && egress.get(0).verify() == Verification.FULL
                && egress.get(0).serverName() == null) {
            errors.add(new FieldProblem(
                    "egress[0].serverName",
                    "is required with target mode '" + target.mode().label()
                            + "': there is no fixed target host to verify the certificate against"));
        }
        RelayRequest.MinDepthRequest minDepth = options != null ? options.minDepth() : null;
        int minIngress = minDepth != null && minDepth.ingress() != null ? minDepth.ingress() : ingress.size();
        int minEgress = minDepth != null && minDepth.egress() != null ? minDepth.egress() : egress.size();
        if (!errors.isEmpty()) {
            throw new InvalidRequestException(errors);
        }
        RelaySpec spec = new RelaySpec(
                name,
                new Endpoint(listenHost, listenPort),
                target,
                ingress,
                egress,
                new RelayOptions(
                        maxTunnels,
                        handshakeTimeout,
                        connectTimeout,
                        idleTimeout,
                        minIngress,
                        minEgress,
                        halfClose,
                        halfCloseTimeout),
                upstream);
        List<SpecProblem> problems = spec.problems();
        if (!problems.isEmpty()) {
            throw new InvalidRequestException(fieldProblems(problems, ""));
        }
        return spec;
    }

    /**
     * The target in one of its forms: {@code host} and {@code port}; several {@code targets} with a {@code balance};
     * or a proxy {@code mode} alone. Null when it is invalid (the errors say why).
     */
    private static @Nullable TargetSpec target(
            List<FieldProblem> errors, RelayRequest.@Nullable TargetRequest request) {
        if (request == null) {
            errors.add(new FieldProblem("target", "is required"));
            return null;
        }
        TargetSpec.Mode mode = TargetSpec.Mode.FIXED;
        if (request.mode() != null) {
            mode = TargetSpec.Mode.named(request.mode());
            if (mode == null) {
                errors.add(new FieldProblem("target.mode", "must be 'fixed', 'connect' or 'socks5'"));
                return null;
            }
        }
        TargetSpec.Balance balance = TargetSpec.Balance.FAILOVER;
        if (request.balance() != null) {
            balance = TargetSpec.Balance.named(request.balance());
            if (balance == null) {
                errors.add(new FieldProblem("target.balance", "must be 'failover' or 'round-robin'"));
                return null;
            }
        }
        if (mode != TargetSpec.Mode.FIXED) {
            int before = errors.size();
            String why = "is not used with mode '" + mode.label() + "': each client names its destination";
            if (request.host() != null) {
                errors.add(new FieldProblem("target.host", why));
            }
            if (request.port() != null) {
                errors.add(new FieldProblem("target.port", why));
            }
            if (request.targets() != null) {
                errors.add(new FieldProblem("target.targets", why));
            }
            if (request.balance() != null) {
                errors.add(new FieldProblem("target.balance", why));
            }
            return errors.size() == before ? TargetSpec.proxy(mode) : null;
        }
        if (request.targets() != null) {
            int before = errors.size();
            if (request.host() != null || request.port() != null) {
                errors.add(new FieldProblem("target.targets", "give either host and port or targets, not both"));
            }
            if (request.targets().isEmpty()) {
                errors.add(new FieldProblem("target.targets", "must name at least one target"));
            }
            List<Endpoint> endpoints = new ArrayList<>();
            for (int i = 0; i < request.targets().size(); i++) {
                RelayRequest.EndpointRequest each = request.targets().get(i);
                Endpoint endpoint = endpoint(errors, "target.targets[" + i + "]", each);
                if (endpoint != null) {
                    endpoints.add(endpoint);
                }
            }
            return errors.size() == before ? new TargetSpec(mode, endpoints, balance) : null;
        }
        Endpoint endpoint =
                endpoint(errors, "target", new RelayRequest.EndpointRequest(request.host(), request.port()));
        return endpoint != null ? new TargetSpec(mode, List.of(endpoint), balance) : null;
    }

    private static @Nullable Endpoint endpoint(
            List<FieldProblem> errors, String path, RelayRequest.@Nullable EndpointRequest request) {
        if (request == null) {
            errors.add(new FieldProblem(path, "is required"));
            return null;
        }
        boolean valid = true;
        if (request.host() == null || request.host().isBlank()) {
            errors.add(new FieldProblem(path + ".host", "is required"));
            valid = false;
        }
        if (request.port() == null || request.port() < 1 || request.port() > 65535) {
            errors.add(new FieldProblem(path + ".port", "must be between 1 and 65535"));
            valid = false;
        }
        return valid ? new Endpoint(request.host(), request.port()) : null;
    }

    /** How the target is reached: {@code via} a plain HTTP proxy, with a PROXY protocol header. */
    private static Upstream upstream(List<FieldProblem> errors, RelayRequest.@Nullable TargetRequest target) {
        if (target == null) {
            return Upstream.DIRECT;
        }
        Endpoint via = null;
        RelayRequest.EndpointRequest viaRequest = target.via();
        if (viaRequest != null) {
            if (viaRequest.host() == null || viaRequest.host().isBlank()) {
                errors.add(new FieldProblem("target.via.host", "is required"));
            }
            if (viaRequest.port() == null || viaRequest.port() < 1 || viaRequest.port() > 65535) {
                errors.add(new FieldProblem("target.via.port", "must be between 1 and 65535"));
            }
            if (viaRequest.host() != null && viaRequest.port() != null) {
                via = new Endpoint(viaRequest.host(), viaRequest.port());
            }
        }
        ProxyProtocol proxyProtocol = ProxyProtocol.OFF;
        if (target.proxyProtocol() != null) {
            ProxyProtocol named = ExactValues.oneOf(target.proxyProtocol(), "v1", "v2")
                    ? ProxyProtocol.named(target.proxyProtocol())
                    : null;
            if (named == null) {
                errors.add(new FieldProblem("target.proxyProtocol", "must be 'v1' or 'v2'"));
            } else {
                proxyProtocol = named;
            }
        }
        return new Upstream(via, proxyProtocol);
    }

    /** One layer pushed on a live tunnel: index is its future position in the stack. */
    public static LayerSpec toLayer(
            LayerRequest request,
            Side side,
            int index,
            @Nullable String defaultServerName,
            Duration handshakeTimeout,
            TlsProfile defaultProfile) {
        List<FieldProblem> errors = new ArrayList<>();
        LayerSpec spec =
                layer(errors, "", side, index, request, defaultServerName, null, handshakeTimeout, defaultProfile);
        if (!errors.isEmpty()) {
            throw new InvalidRequestException(errors);
        }
        return spec;
    }

    private static List<LayerSpec> layers(
            List<FieldProblem> errors,
            Side side,
            @Nullable List<LayerRequest> requests,
            @Nullable String defaultServerName,
            Duration handshakeTimeout,
            TlsProfile defaultProfile) {
        List<LayerSpec> layers = new ArrayList<>();
        if (requests == null) {
            return layers;
        }
        for (int i = 0; i < requests.size(); i++) {
            LayerRequest request = requests.get(i);
            String prefix = side.label() + "[" + i + "].";
            if (request == null) {
                errors.add(new FieldProblem(side.label() + "[" + i + "]", "a layer cannot be null"));
                continue;
            }
            // Behind a proxy hop the next layer's peer is the host asked for: the name it verifies by default.
            String behindHop =
                    i > 0 && !layers.isEmpty() && layers.get(layers.size() - 1).connect() != null
                            ? HostPort.parse(layers.get(layers.size() - 1).connect())
                                    .host()
                            : null;
            LayerSpec layer = layer(
                    errors, prefix, side, i, request, defaultServerName, behindHop, handshakeTimeout, defaultProfile);
            if (layer != null) {
                layers.add(layer);
            }
        }
        return layers;
    }

    private static @Nullable LayerSpec layer(
            List<FieldProblem> errors,
            String prefix,
            Side side,
            int index,
            LayerRequest request,
            @Nullable String defaultServerName,
            @Nullable String behindHop,
            Duration relayHandshakeTimeout,
            TlsProfile defaultProfile) {
        int before = errors.size();
        TlsProfile profile = request.profile() == null
                ? defaultProfile
                : ExactValues.oneOf(request.profile(), TlsProfile.DEFAULT.label(), TlsProfile.STRICT.label())
                        ? TlsProfile.named(request.profile())
                        : null;
        List<String> protocols = request.protocols();
        List<String> ciphers = request.ciphers();
        if (profile == null) {
            errors.add(new FieldProblem(prefix + "profile", "must be one of [default, strict], exactly"));
        } else if (profile == TlsProfile.STRICT) {
            // Strict: TLS 1.3 only, AES-256-GCM only. Explicit lists may narrow it, never widen it.
            if (protocols != null && protocols.stream().anyMatch(v -> !"TLSv1.3".equals(v))) {
                errors.add(new FieldProblem(prefix + "protocols", "the strict profile allows TLSv1.3 only"));
            }
            if (ciphers != null && !TlsProfile.STRICT_CIPHERS.containsAll(ciphers)) {
                errors.add(new FieldProblem(
                        prefix + "ciphers", "the strict profile allows " + TlsProfile.STRICT_CIPHERS + " only"));
            }
            protocols = TlsProfile.STRICT_PROTOCOLS;
            ciphers = TlsProfile.STRICT_CIPHERS;
        }
        Role role = ExactValues.of(errors, prefix + "role", request.role(), Role.class);
        Verification verify = ExactValues.of(errors, prefix + "verify", request.verify(), Verification.class);
        ClientAuthMode clientAuth =
                ExactValues.of(errors, prefix + "clientAuth", request.clientAuth(), ClientAuthMode.class);
        Duration timeout = duration(
                errors,
                prefix + "handshakeTimeout",
                request.handshakeTimeout(),
                relayHandshakeTimeout,
                TlsSettings.MAX_HANDSHAKE_TIMEOUT);
        if (request.connect() != null) {
            if (side == Side.INGRESS) {
                errors.add(new FieldProblem(
                        prefix + "connect",
                        "only egress layers ask a proxy hop for a tunnel; an ingress layer cannot"));
            } else {
                try {
                    List<SpecProblem> problems = new ArrayList<>();
                    TlsSettings.host(
                            problems,
                            prefix + "connect",
                            HostPort.parse(request.connect()).host());
                    problems.forEach(problem -> errors.add(new FieldProblem(problem.field(), problem.message())));
                } catch (IllegalArgumentException e) {
                    errors.add(new FieldProblem(prefix + "connect", e.getMessage()));
                }
            }
        }
        Role effectiveRole = role != null ? role : (side == Side.INGRESS ? Role.SERVER : Role.CLIENT);
        if (effectiveRole == Role.SERVER
                && (request.credential() == null || request.credential().isBlank())) {
            errors.add(new FieldProblem(prefix + "credential", "a server layer needs an identity credential"));
        }
        RoleFields.check(errors, prefix, effectiveRole, request, verify, clientAuth);
        LayerSpec spec;
        try {
            spec = LayerDefaults.layer(side, index, relayHandshakeTimeout)
                    .name(request.name())
                    .role(role)
                    .credential(request.credential())
                    .trust(request.trust())
                    .serverName(request.serverName())
                    .verify(verify)
                    .clientAuth(clientAuth)
                    .protocols(protocols)
                    .ciphers(ciphers)
                    .alpn(request.alpn())
                    .handshakeTimeout(timeout)
                    .defaultServerName(defaultServerName)
                    .serverNameBehindHop(behindHop)
                    .connect(request.connect() != null ? request.connect().trim() : null)
                    .allow(request.allow())
                    .padding(request.padding())
                    .build();
        } catch (InvalidSpecException e) {
            // Reported together with the request's own problems, so that one answer names every field at fault.
            errors.addAll(fieldProblems(e.problems(), prefix));
            return null;
        }
        return errors.size() > before ? null : spec;
    }

    /** Problems of a spec as API field problems, under the request path of that spec ({@code egress[1].}). */
    private static List<FieldProblem> fieldProblems(List<SpecProblem> problems, String prefix) {
        String under = prefix.endsWith(".") ? prefix.substring(0, prefix.length() - 1) : prefix;
        return problems.stream()
                .map(problem -> problem.under(under))
                .map(problem -> new FieldProblem(problem.field(), problem.message()))
                .toList();
    }

    private static Duration duration(
            List<FieldProblem> errors, String field, @Nullable String value, Duration fallback, Duration max) {
        if (value == null) {
            return fallback;
        }
        try {
            Duration parsed = Durations.parse(value.trim());
            if (parsed.isNegative() || parsed.isZero()) {
                errors.add(new FieldProblem(field, "must be positive"));
                return fallback;
            }
            List<SpecProblem> problems = new ArrayList<>();
            TlsSettings.timeout(problems, field, parsed, max);
            problems.forEach(problem -> errors.add(new FieldProblem(problem.field(), problem.message())));
            return problems.isEmpty() ? parsed : fallback;
        } catch (IllegalArgumentException | ArithmeticException e) {
            errors.add(new FieldProblem(field, "'" + value + "' is not a duration such as PT10S or 10s"));
            return fallback;
        }
    }
}
