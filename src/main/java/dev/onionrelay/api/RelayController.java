package dev.onionrelay.api;

import dev.onionrelay.layer.LayerStatus;
import dev.onionrelay.layer.Side;
import dev.onionrelay.registry.LayerRequest;
import dev.onionrelay.registry.RelayRegistry;
import dev.onionrelay.registry.RelayRequest;
import dev.onionrelay.relay.Relay;
import dev.onionrelay.relay.RelayException;
import dev.onionrelay.relay.Tunnel;
import io.swagger.v3.oas.annotations.Operation;
import io.swagger.v3.oas.annotations.responses.ApiResponse;
import io.swagger.v3.oas.annotations.tags.Tag;
import java.net.URI;
import java.util.List;
import java.util.Locale;
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

    public RelayController(RelayRegistry relays) {
        this.relays = relays;
    }

    @PostMapping(consumes = MediaType.APPLICATION_JSON_VALUE)
    @Operation(summary = "Create a relay: listen, peel the ingress stack, wrap the egress stack, connect the target")
    @ApiResponse(responseCode = "201", description = "the relay, listening or FAILED with the reason")
    public ResponseEntity<RelayViews.RelayView> create(@RequestBody RelayRequest request) {
        Relay relay = relays.create(request);
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
        Tunnel live = relays.tunnel(relay, tunnel);
        LayerStatus pushed = relays.push(relay, tunnel, side(side), request);
        return ResponseEntity.created(URI.create("/relays/" + live.relay().id() + "/tunnels/" + live.id()))
                .body(RelayViews.liveLayer(pushed));
    }

    @DeleteMapping("/{relay}/tunnels/{tunnel}/{side}/layers/innermost")
    @ResponseStatus(HttpStatus.ACCEPTED)
    @Operation(summary = "Pop the innermost layer (stopTLS): close_notify, the TCP connection stays open")
    public void pop(@PathVariable String relay, @PathVariable String tunnel, @PathVariable String side) {
        relays.pop(relay, tunnel, side(side));
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
