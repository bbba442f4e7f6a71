package dev.onionrelay.api;

import com.fasterxml.jackson.annotation.JsonInclude;
import dev.onionrelay.layer.LayerSpec;
import dev.onionrelay.layer.LayerStatus;
import dev.onionrelay.layer.PeerSans;
import dev.onionrelay.layer.allow.PeerAllow;
import dev.onionrelay.relay.Endpoint;
import dev.onionrelay.relay.Relay;
import dev.onionrelay.relay.RelayOptions;
import dev.onionrelay.relay.RelayStats;
import dev.onionrelay.relay.TunnelStatus;
import dev.onionrelay.relay.target.TargetSpec;
import dev.onionrelay.relay.upstream.Upstream;
import java.time.Instant;
import java.util.List;
import java.util.Locale;
import org.jspecify.annotations.Nullable;

/** The JSON shapes of relays, layers and tunnels, exactly as API.md names their fields. */
public final class RelayViews {

    private RelayViews() {}

    /**
     * A relay. {@code error} only when FAILED. {@code state} and {@code error} are this instance's; {@code instances}
     * has the state on every live instance of the fleet and {@code stats} are summed over those that answered.
     * {@code warnings} only in the answer to a create, when the relay is likely not to work as meant (see {@link
     * dev.onionrelay.registry.LoopbackTargets}).
     */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record RelayView(
            String id,
            String name,
            String state,
            @Nullable String error,
            Endpoint listen,
            TargetView target,
            List<LayerView> ingress,
            List<LayerView> egress,
            OptionsView options,
            Instant createdAt,
            long revision,
            StatsView stats,
            List<InstanceView> instances,
            @Nullable List<String> warnings) {

        /** This view with the warnings of its create. */
        public RelayView withWarnings(List<String> warnings) {
            return new RelayView(
                    id,
                    name,
                    state,
                    error,
                    listen,
                    target,
                    ingress,
                    egress,
                    options,
                    createdAt,
                    revision,
                    stats,
                    instances,
                    warnings.isEmpty() ? null : List.copyOf(warnings));
        }
    }

    /**
     * A relay on one instance of the fleet: LISTENING, FAILED (with {@code error}) or STOPPED as there, ABSENT when
     * that instance does not have it (yet), UNREACHABLE when it did not answer in time, SUSPECT when its lease ran
     * out (not asked; it may only be paused). {@code listen} is where the relay listens (or tries to) on that
     * instance: with {@code onion.fleet.bind-address} the bind address, not the spec's host.
     */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record InstanceView(
            String name,
            String state,
            @Nullable String error,
            @Nullable Integer activeTunnels,
            @Nullable Endpoint listen) {}

    /**
     * Where the relay's tunnels go, in the form it was given: {@code host} and {@code port} for one target,
     * {@code targets} and {@code balance} for several, {@code mode} alone for the proxy modes; {@code via} and
     * {@code proxyProtocol} only when set.
     */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record TargetView(
            @Nullable String host,
            @Nullable Integer port,
            @Nullable String mode,
            @Nullable List<Endpoint> targets,
            @Nullable String balance,
            @Nullable Endpoint via,
            @Nullable String proxyProtocol) {

        static TargetView of(TargetSpec target, Upstream upstream) {
            Endpoint via = upstream.via();
            String proxyProtocol = upstream.proxyProtocol().label();
            if (target.isProxy()) {
                return new TargetView(null, null, target.mode().label(), null, null, via, proxyProtocol);
            }
            if (target.endpoints().size() == 1 && target.balance() == TargetSpec.Balance.FAILOVER) {
                Endpoint only = target.endpoints().get(0);
                return new TargetView(only.host(), only.port(), null, null, null, via, proxyProtocol);
            }
            return new TargetView(
                    null, null, null, target.endpoints(), target.balance().label(), via, proxyProtocol);
        }
    }

    /** A configured layer, defaults applied. */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record LayerView(
            String name,
            String role,
            @Nullable String credential,
            String trust,
            @Nullable String serverName,
            String verify,
            String clientAuth,
            List<String> protocols,
            List<String> ciphers,
            List<String> alpn,
            String handshakeTimeout,
            @Nullable String connect,
            @Nullable AllowView allow,
            @Nullable String padding) {}

    /** A layer's {@code allow}: the lists it names and its expression. */
    @JsonInclude(JsonInclude.Include.NON_EMPTY)
    public record AllowView(
            List<String> commonNames,
            List<String> organizationalUnits,
            List<String> dnsNames,
            List<String> uris,
            List<String> ipAddresses,
            List<String> sha256,
            @Nullable String expression) {}

    /** Relay options; durations in ISO-8601. */
    public record OptionsView(
            int maxTunnels,
            String handshakeTimeout,
            String connectTimeout,
            String idleTimeout,
            MinDepthView minDepth,
            String halfClose,
            String halfCloseTimeout) {}

    public record MinDepthView(int ingress, int egress) {}

    /** API.md's stats, plus connections refused at accept (limits) and failed connects to the target. */
    public record StatsView(
            int activeTunnels,
            long totalTunnels,
            long handshakeFailures,
            long bytesIn,
            long bytesOut,
            long rejectedTunnels,
            long connectFailures) {}

    /**
     * A tunnel and its two live stacks; {@code instance} is the instance of the fleet that holds it; {@code requested}
     * (proxy modes: the destination the client asked for) and {@code connected} (where the tunnel connected) appear
     * once known.
     */
    public record TunnelView(
            String id,
            String relay,
            String client,
            Instant openedAt,
            String state,
            long revision,
            long bytesIn,
            long bytesOut,
            StackView ingress,
            StackView egress,

            @JsonInclude(JsonInclude.Include.NON_NULL) @Nullable
            String requested,

            @JsonInclude(JsonInclude.Include.NON_NULL) @Nullable
            ConnectedView connected,

            String instance) {}

    /** Where a tunnel connected: {@code index} in the relay's targets (fixed targets only), target, address. */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record ConnectedView(@Nullable Integer index, String target, String address) {}

    public record StackView(int depth, int minDepth, List<LiveLayerView> layers) {}

    /**
     * A live layer; protocol, cipher, peer and handshakeMillis appear once known; padding ({@code "on"}) and its bytes
     * each way only on a shaped layer.
     */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record LiveLayerView(
            int index,
            String name,
            String role,
            String state,
            @Nullable String protocol,
            @Nullable String cipher,
            @Nullable String peer,
            String provider,
            @Nullable Long handshakeMillis,
            @Nullable String failureReason,
            @Nullable PeerSans peerSans,
            @Nullable String padding,
            @Nullable Long paddingBytesSent,
            @Nullable Long paddingBytesReceived) {}

    /**
     * A relay as this instance ({@code instance}) sees it: one element in {@code instances} (listening on {@code
     * listen}), its own stats.
     */
    public static RelayView relay(Relay relay, String instance, Endpoint listen) {
        RelayOptions options = relay.spec().options();
        RelayStats stats = relay.stats();
        return new RelayView(
                relay.id(),
                relay.spec().name(),
                relay.state().name(),
                relay.error(),
                relay.spec().listen(),
                TargetView.of(relay.spec().target(), relay.spec().upstream()),
                relay.spec().ingress().stream().map(RelayViews::layer).toList(),
                relay.spec().egress().stream().map(RelayViews::layer).toList(),
                new OptionsView(
                        options.maxTunnels(),
                        options.handshakeTimeout().toString(),
                        options.connectTimeout().toString(),
                        options.idleTimeout().toString(),
                        new MinDepthView(options.minIngressDepth(), options.minEgressDepth()),
                        options.halfClose().label(),
                        options.halfCloseTimeout().toString()),
                relay.createdAt(),
                relay.revision(),
                new StatsView(
                        stats.activeTunnels(),
                        stats.totalTunnels(),
                        stats.handshakeFailures(),
                        stats.bytesIn(),
                        stats.bytesOut(),
                        stats.rejectedTunnels(),
                        stats.connectFailures()),
                List.of(new InstanceView(instance, relay.state().name(), relay.error(), stats.activeTunnels(), listen)),
                null);
    }

    public static LayerView layer(LayerSpec spec) {
        return new LayerView(
                spec.name(),
                lower(spec.role()),
                spec.credential(),
                spec.trust(),
                spec.serverName(),
                lower(spec.verify()),
                lower(spec.clientAuth()),
                spec.protocols(),
                spec.ciphers(),
                spec.alpn(),
                spec.handshakeTimeout().toString(),
                spec.connect(),
                spec.allow() == null ? null : allow(spec.allow().allow()),
                spec.padding() ? "on" : null);
    }

    private static AllowView allow(PeerAllow allow) {
        return new AllowView(
                allow.commonNames(),
                allow.organizationalUnits(),
                allow.dnsNames(),
                allow.uris(),
                allow.ipAddresses(),
                allow.sha256(),
                allow.expression());
    }

    /**
     * A tunnel of this instance ({@code instance}), its id as the API shows it ({@code id}), with the revision of its
     * relay's definition it runs.
     */
    public static TunnelView tunnel(TunnelStatus status, String id, String instance) {
        return new TunnelView(
                id,
                status.relay(),
                status.client(),
                status.openedAt(),
                status.state().name(),
                status.revision(),
                status.bytesIn(),
                status.bytesOut(),
                stack(status.ingress()),
                stack(status.egress()),
                status.requested(),
                status.connected() == null
                        ? null
                        : new ConnectedView(
                                status.connected().index(),
                                status.connected().target(),
                                status.connected().address()),
                instance);
    }

    private static StackView stack(TunnelStatus.StackStatus stack) {
        return new StackView(
                stack.depth(),
                stack.minDepth(),
                stack.layers().stream().map(RelayViews::liveLayer).toList());
    }

    public static LiveLayerView liveLayer(LayerStatus layer) {
        return new LiveLayerView(
                layer.index(),
                layer.name(),
                lower(layer.role()),
                layer.state().name(),
                layer.protocol(),
                layer.cipher(),
                layer.peer(),
                layer.provider().name(),
                layer.handshakeMillis(),
                layer.failureReason(),
                layer.peerSans(),
                layer.padding(),
                layer.paddingBytesSent(),
                layer.paddingBytesReceived());
    }

    private static String lower(Enum<?> value) {
        return value.name().toLowerCase(Locale.ROOT);
    }
}
