package dev.onionrelay.api;

import dev.onionrelay.boot.OnionProperties;
import dev.onionrelay.layer.BelowMinimumDepthException;
import dev.onionrelay.layer.Layer;
import dev.onionrelay.layer.LayerSpec;
import dev.onionrelay.layer.LayerStack;
import dev.onionrelay.layer.PreparedLayer;
import dev.onionrelay.layer.Side;
import dev.onionrelay.layer.Verification;
import dev.onionrelay.registry.InvalidRequestException;
import dev.onionrelay.registry.LayerRequest;
import dev.onionrelay.registry.RelayRegistry;
import dev.onionrelay.registry.RelayRequest;
import dev.onionrelay.registry.RelayRequests;
import dev.onionrelay.relay.Relay;
import dev.onionrelay.relay.RelayException;
import dev.onionrelay.relay.RelaySpec;
import dev.onionrelay.relay.Tunnel;
import dev.onionrelay.relay.TunnelState;
import io.swagger.v3.oas.annotations.Operation;
import io.swagger.v3.oas.annotations.responses.ApiResponse;
import io.swagger.v3.oas.annotations.tags.Tag;
import java.net.URI;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.springframework.http.HttpStatus;
import org.springframework.http.MediaType;
import org.springframework.http.ResponseEntity;
import org.springframework.web.bind.annotation.DeleteMapping;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestBody;
import org.springframework.web.bind.annotation.RequestMapping;
import org.springframework.web.bind.annotation.ResponseStatus;
import org.springframework.web.bind.annotation.RestController;

/** {@code /relays}: listeners with their stacks, their open tunnels, and the live layers of each tunnel. */
@RestController
@RequestMapping(path = "/relays", produces = MediaType.APPLICATION_JSON_VALUE)
@Tag(name = "relays", description = "Nested-TLS relays, their tunnels and live layers")
public class RelayController {

    private final RelayRegistry relays;
    private final RelayRequests.Defaults defaults;

    public RelayController(RelayRegistry relays, OnionProperties properties) {
        this.relays = relays;
        OnionProperties.Limits limits = properties.limits();
        this.defaults = RelayRequests.Defaults.from(limits, properties.tls().profile());
    }

    @PostMapping(consumes = MediaType.APPLICATION_JSON_VALUE)
    @Operation(summary = "Create a relay: listen, peel the ingress stack, wrap the egress stack, connect the target")
    @ApiResponse(responseCode = "201", description = "the relay, listening or FAILED with the reason")
    public ResponseEntity<RelayViews.RelayView> create(@RequestBody RelayRequest request) {
        RelaySpec spec = RelayRequests.toSpec(request, defaults);
        Relay relay = relays.create(spec);
        return ResponseEntity.created(URI.create("/relays/" + relay.id())).body(RelayViews.relay(relay));
    }

    @GetMapping
    @Operation(summary = "List relays, oldest first")
    public List<RelayViews.RelayView> list() {
        return relays.list().stream().map(RelayViews::relay).toList();
    }

    @GetMapping("/{relay}")
    @Operation(summary = "One relay, by id or name")
    public RelayViews.RelayView get(@PathVariable String relay) {
        return RelayViews.relay(relays.get(relay));
    }

    @DeleteMapping("/{relay}")
    @ResponseStatus(HttpStatus.NO_CONTENT)
    @Operation(summary = "Close a relay's listener and tunnels and forget it")
    public void delete(@PathVariable String relay) {
        relays.delete(relay);
    }

    @GetMapping("/{relay}/tunnels")
    @Operation(summary = "Open tunnels of a relay, oldest first")
    public List<RelayViews.TunnelView> tunnels(@PathVariable String relay) {
        return relays.get(relay).tunnels().stream()
                .map(t -> RelayViews.tunnel(t.status()))
                .toList();
    }

    @GetMapping("/{relay}/tunnels/{tunnel}")
    @Operation(summary = "One tunnel with both live stacks")
    public RelayViews.TunnelView tunnel(@PathVariable String relay, @PathVariable String tunnel) {
        return RelayViews.tunnel(find(relay, tunnel).status());
    }

    @DeleteMapping("/{relay}/tunnels/{tunnel}")
    @ResponseStatus(HttpStatus.NO_CONTENT)
    @Operation(summary = "Close one tunnel")
    public void closeTunnel(@PathVariable String relay, @PathVariable String tunnel) {
        find(relay, tunnel).close();
    }

    @PostMapping(path = "/{relay}/tunnels/{tunnel}/{side}/layers", consumes = MediaType.APPLICATION_JSON_VALUE)
    @Operation(summary = "Push a new innermost layer on a live tunnel (startTLS); the handshake runs in the background")
    @ApiResponse(responseCode = "201", description = "the pushed layer, handshaking")
    public ResponseEntity<RelayViews.LiveLayerView> push(
            @PathVariable String relay,
            @PathVariable String tunnel,
            @PathVariable String side,
            @RequestBody LayerRequest request) {
        Relay found = relays.get(relay);
        Tunnel live = find(relay, tunnel);
        Side which = side(side);
        LayerStack stack = live.stack(which);
        if (stack == null || live.state() == TunnelState.CLOSED || live.state() == TunnelState.HALF_CLOSED) {
            throw new RelayException(
                    RelayException.Kind.CONFLICT,
                    null,
                    "tunnel " + tunnel + " is " + live.state() + "; layers can only be pushed while it is open");
        }
        int index = stack.depth();
        if (index + 1 > relays.limits().maxDepth()) {
            throw new RelayException(
                    RelayException.Kind.LIMIT,
                    null,
                    "at most " + relays.limits().maxDepth() + " layers per side (onion.limits.max-depth)");
        }
        String defaultServerName = which == Side.EGRESS ? found.spec().target().host() : null;
        LayerSpec spec = RelayRequests.toLayer(
                request,
                which,
                index,
                index == 0 ? defaultServerName : null,
                found.spec().options().handshakeTimeout(),
                defaults.profile());
        if (stack.status().stream().anyMatch(layer -> layer.name().equals(spec.name()))) {
            throw InvalidRequestException.of(
                    "name",
                    "a live " + which.label() + " layer is named '" + spec.name()
                            + "' already; names label status and metrics, so they must differ");
        }
        if (spec.verify() == Verification.NONE
                && spec.verifiesPeerWhenAsked()
                && !relays.policy().allowInsecureVerify()) {
            throw new RelayException(
                    RelayException.Kind.FORBIDDEN,
                    "verify",
                    "verify 'none' needs onion.policy.allow-insecure-verify=true");
        }
        PreparedLayer prepared = relays.prepare(which, List.of(spec)).get(0);
        Layer layer = await(live.push(which, prepared));
        int position = stack.status().size() - 1;
        return ResponseEntity.created(URI.create("/relays/" + found.id() + "/tunnels/" + live.id()))
                .body(RelayViews.liveLayer(stack.status().get(Math.max(0, position))));
    }

    @DeleteMapping("/{relay}/tunnels/{tunnel}/{side}/layers/innermost")
    @ResponseStatus(HttpStatus.ACCEPTED)
    @Operation(summary = "Pop the innermost layer (stopTLS): close_notify, the TCP connection stays open")
    public void pop(@PathVariable String relay, @PathVariable String tunnel, @PathVariable String side) {
        await(find(relay, tunnel).popLocal(side(side)));
    }

    private Tunnel find(String relay, String tunnel) {
        return relays.get(relay)
                .tunnel(tunnel)
                .orElseThrow(() -> new RelayException(
                        RelayException.Kind.NOT_FOUND,
                        null,
                        "no open tunnel '" + tunnel + "' on relay '" + relay + "'"));
    }

    private static Side side(String side) {
        try {
            return Side.valueOf(side.toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new RelayException(
                    RelayException.Kind.NOT_FOUND, "side", "side is 'ingress' or 'egress', not '" + side + "'");
        }
    }

    private static <T> T await(io.netty.util.concurrent.Future<T> future) {
        try {
            return future.get(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        } catch (TimeoutException e) {
            throw new IllegalStateException("the tunnel's event loop did not answer in time", e);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof BelowMinimumDepthException below) {
                throw new RelayException(RelayException.Kind.CONFLICT, "side", below.getMessage());
            }
            throw new RelayException(
                    RelayException.Kind.CONFLICT, null, e.getCause().getMessage());
        }
    }
}
