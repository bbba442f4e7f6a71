package dev.onionrelay.api;

import dev.onionrelay.api.FleetViews.MemberAnswer;
import dev.onionrelay.api.FleetViews.MemberRelay;
import dev.onionrelay.fleet.TunnelIds;
import dev.onionrelay.layer.LayerStatus;
import dev.onionrelay.layer.Side;
import dev.onionrelay.registry.LayerRequest;
import dev.onionrelay.registry.LoopbackTargets;
import dev.onionrelay.registry.RelayRegistry;
import dev.onionrelay.registry.RelayRequest;
import dev.onionrelay.relay.Relay;
import dev.onionrelay.relay.RelayException;
import dev.onionrelay.relay.Tunnel;
import io.swagger.v3.oas.annotations.Operation;
import io.swagger.v3.oas.annotations.media.Content;
import io.swagger.v3.oas.annotations.media.Schema;
import io.swagger.v3.oas.annotations.responses.ApiResponse;
import io.swagger.v3.oas.annotations.tags.Tag;
import jakarta.servlet.http.HttpServletRequest;
import java.net.URI;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;
import java.util.function.Function;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.http.HttpStatus;
import org.springframework.http.MediaType;
import org.springframework.http.ResponseEntity;
import org.springframework.web.bind.annotation.DeleteMapping;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.PutMapping;
import org.springframework.web.bind.annotation.RequestBody;
import org.springframework.web.bind.annotation.RequestMapping;
import org.springframework.web.bind.annotation.ResponseStatus;
import org.springframework.web.bind.annotation.RestController;
import tools.jackson.core.type.TypeReference;

/**
 * {@code /relays}: listeners with their stacks, their open tunnels, and the live layers of each tunnel. Any instance of
 * a fleet answers for the whole fleet: relay views list the relay's state on every live member with stats summed over
 * them, tunnel lists merge every member's tunnels, and calls about one tunnel that another member holds are passed to
 * that member (see {@link FleetCalls}).
 */
@RestController
@RequestMapping(path = "/relays", produces = MediaType.APPLICATION_JSON_VALUE)
@Tag(name = "relays", description = "Nested-TLS relays, their tunnels and live layers")
public class RelayController {

    /** Names the members that did not answer in time when a list could not include their part. */
    public static final String UNREACHABLE_MEMBERS = "Onion-Unreachable-Members";

    private static final Logger LOG = LoggerFactory.getLogger(RelayController.class);
    private static final TypeReference<MemberRelay> MEMBER_RELAY = new TypeReference<>() {};
    private static final TypeReference<List<MemberRelay>> MEMBER_RELAYS = new TypeReference<>() {};
    private static final TypeReference<List<RelayViews.TunnelView>> TUNNELS = new TypeReference<>() {};

    private final RelayRegistry relays;
    private final FleetCalls fleet;

    public RelayController(RelayRegistry relays, FleetCalls fleet) {
        this.relays = relays;
        this.fleet = fleet;
    }

    @PostMapping(consumes = MediaType.APPLICATION_JSON_VALUE)
    @Operation(summary = "Create a relay: listen, peel the ingress stack, wrap the egress stack, connect the target")
    @ApiResponse(responseCode = "201", description = "the relay, listening or FAILED with the reason")
    public ResponseEntity<RelayViews.RelayView> create(@RequestBody RelayRequest request) {
        Relay relay = relays.create(request);
        Set<Integer> relayPorts = relays.list().stream()
                .filter(other -> !other.id().equals(relay.id()))
                .map(other -> other.spec().listen().port())
                .collect(Collectors.toSet());
        List<String> warnings = LoopbackTargets.warnings(
                relay.spec(), relays.engine().settings().bindHost(), relayPorts);
        warnings.forEach(warning -> LOG.warn("relay {} ({}): {}", relay.spec().name(), relay.id(), warning));
        return ResponseEntity.created(URI.create("/relays/" + relay.id()))
                .body(view(relay).withWarnings(warnings));
    }

    @GetMapping
    @Operation(summary = "List relays, oldest first, with their state on every live instance")
    public List<RelayViews.RelayView> list(HttpServletRequest request) {
        List<RelayViews.RelayView> local =
                relays.list().stream().map(this::view).toList();
        return FleetViews.relays(local, fleet.ask(request, MEMBER_RELAYS));
    }

    @GetMapping("/{relay}")
    @Operation(summary = "One relay, by id or name, with its state on every live instance")
    public RelayViews.RelayView get(@PathVariable String relay, HttpServletRequest request) {
        RelayViews.RelayView local = view(relays.get(relay));
        return FleetViews.relay(local, fleet.ask(request, MEMBER_RELAY));
    }

    @PutMapping(path = "/{relay}", consumes = MediaType.APPLICATION_JSON_VALUE)
    @Operation(
            summary = "Replace a relay's definition in place: new tunnels follow it at once, open tunnels keep theirs,"
                    + " the listener stays open when listen is unchanged")
    @ApiResponse(responseCode = "200", description = "the relay with its next revision")
    public RelayViews.RelayView replace(@PathVariable String relay, @RequestBody RelayRequest request) {
        return view(relays.replace(relay, request));
    }

    @DeleteMapping("/{relay}")
    @ResponseStatus(HttpStatus.NO_CONTENT)
    @Operation(summary = "Close a relay's listener and tunnels and forget it")
    public void delete(@PathVariable String relay) {
        relays.delete(relay);
    }

    @GetMapping("/{relay}/tunnels")
    @Operation(summary = "Open tunnels of a relay on every live instance, oldest first")
    public ResponseEntity<List<RelayViews.TunnelView>> tunnels(@PathVariable String relay, HttpServletRequest request) {
        List<RelayViews.TunnelView> local = relays.get(relay).tunnels().stream()
                .map(t -> RelayViews.tunnel(t.status(), fleet.tunnelId(t.id()), fleet.self()))
                .toList();
        List<MemberAnswer<List<RelayViews.TunnelView>>> others = fleet.ask(request, TUNNELS);
        List<String> unreachable = FleetViews.unreachable(others);
        ResponseEntity.BodyBuilder response = ResponseEntity.ok();
        if (!unreachable.isEmpty()) {
            response.header(UNREACHABLE_MEMBERS, String.join(",", unreachable));
        }
        return response.body(FleetViews.tunnels(local, others));
    }

    @GetMapping("/{relay}/tunnels/{tunnel}")
    @Operation(summary = "One tunnel with both live stacks, from the instance that holds it")
    @ApiResponse(
            responseCode = "200",
            description = "the tunnel",
            content = @Content(schema = @Schema(implementation = RelayViews.TunnelView.class)))
    public ResponseEntity<?> tunnel(
            @PathVariable String relay, @PathVariable String tunnel, HttpServletRequest request) {
        return here(request, null, tunnel, local -> {
            Tunnel live = find(relay, local);
            return ResponseEntity.ok(RelayViews.tunnel(live.status(), fleet.tunnelId(live.id()), fleet.self()));
        });
    }

    @DeleteMapping("/{relay}/tunnels/{tunnel}")
    @Operation(summary = "Close one tunnel, on the instance that holds it")
    @ApiResponse(responseCode = "204", description = "closed")
    public ResponseEntity<?> closeTunnel(
            @PathVariable String relay, @PathVariable String tunnel, HttpServletRequest request) {
        return here(request, null, tunnel, local -> {
            find(relay, local).close();
            return ResponseEntity.noContent().build();
        });
    }

    @PostMapping(path = "/{relay}/tunnels/{tunnel}/{side}/layers", consumes = MediaType.APPLICATION_JSON_VALUE)
    @Operation(summary = "Push a new innermost layer on a live tunnel (startTLS); the handshake runs in the background")
    @ApiResponse(
            responseCode = "201",
            description = "the pushed layer, handshaking",
            content = @Content(schema = @Schema(implementation = RelayViews.LiveLayerView.class)))
    public ResponseEntity<?> push(
            @PathVariable String relay,
            @PathVariable String tunnel,
            @PathVariable String side,
            @RequestBody LayerRequest layer,
            HttpServletRequest request) {
        Side pushed = side(side);
        return here(request, layer, tunnel, local -> {
            Tunnel live = relays.tunnel(relay, local);
            LayerStatus status = relays.push(relay, local, pushed, layer);
            return ResponseEntity.created(
                            URI.create("/relays/" + live.relay().id() + "/tunnels/" + fleet.tunnelId(live.id())))
                    .body(RelayViews.liveLayer(status));
        });
    }

    @DeleteMapping("/{relay}/tunnels/{tunnel}/{side}/layers/innermost")
    @Operation(summary = "Pop the innermost layer (stopTLS): close_notify, the TCP connection stays open")
    @ApiResponse(responseCode = "202", description = "popping")
    public ResponseEntity<?> pop(
            @PathVariable String relay,
            @PathVariable String tunnel,
            @PathVariable String side,
            HttpServletRequest request) {
        Side popped = side(side);
        return here(request, null, tunnel, local -> {
            relays.pop(relay, local, popped);
            return ResponseEntity.accepted().build();
        });
    }

    /**
     * A call about one tunnel ({@code tunnel}, its id as shown): answered here when the id names this instance, by
     * the member it names otherwise (its answer passed on as it is; 504 when that member is suspect or silent). An id
     * that names no instance (a single instance's, or an older member's) is looked for here, then on every member.
     * A forwarded call is always answered here.
     */
    private ResponseEntity<?> here(
            HttpServletRequest request,
            @org.jspecify.annotations.Nullable Object body,
            String tunnel,
            Function<String, ResponseEntity<?>> local) {
        TunnelIds.Holder holder = TunnelIds.holder(tunnel);
        String instance = holder.instance();
        if (instance != null && !instance.equals(fleet.self()) && !FleetCalls.forwarded(request)) {
            return fleet.toInstance(request, body, tunnel, instance);
        }
        try {
            return local.apply(holder.local());
        } catch (RelayException e) {
            if (e.kind() != RelayException.Kind.NOT_FOUND || instance != null) {
                throw e;
            }
            Optional<ResponseEntity<String>> elsewhere = fleet.toHolder(request, body);
            if (elsewhere.isPresent()) {
                return elsewhere.get();
            }
            throw e;
        }
    }

    private RelayViews.RelayView view(Relay relay) {
        return RelayViews.relay(relay, fleet.self(), relays.engine().listenAddress(relay.spec()));
    }

    private Tunnel find(String relay, String tunnel) {
        return relays.tunnel(relay, tunnel);
    }

    private static Side side(String side) {
        try {
            return Side.valueOf(side.toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new RelayException(
                    RelayException.Kind.NOT_FOUND, "side", "side is 'ingress' or 'egress', not '" + side + "'");
        }
    }
}
