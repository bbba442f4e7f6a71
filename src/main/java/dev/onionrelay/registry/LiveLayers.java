package dev.onionrelay.registry;

import dev.onionrelay.layer.BelowMinimumDepthException;
import dev.onionrelay.layer.LayerSpec;
import dev.onionrelay.layer.LayerStack;
import dev.onionrelay.layer.LayerStatus;
import dev.onionrelay.layer.PreparedLayer;
import dev.onionrelay.layer.Side;
import dev.onionrelay.relay.Endpoint;
import dev.onionrelay.relay.PushRules;
import dev.onionrelay.relay.Relay;
import dev.onionrelay.relay.RelayException;
import dev.onionrelay.relay.RelaySpec;
import dev.onionrelay.relay.Tunnel;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Function;

/**
 * Changes to the layers of live tunnels: push (startTLS) and pop (stopTLS) on one side of an open tunnel, checked
 * against the same rules as a relay's static layers and then handed to the tunnel's event loop, where the push is
 * checked again with {@link PushRules} and applied. Apart from the registry because it touches no registry state: it
 * finds the relay, prepares the layer and waits for the event loop's answer, none of it under the registry's lock.
 */
final class LiveLayers {

    /** The relay with an id or name, or NOT_FOUND. */
    private final Function<String, Relay> relays;

    private final SpecRules rules;
    private final RelayOpener opener;
    private final RelayLimits limits;
    private final RelayRequests.Defaults defaults;

    LiveLayers(
            Function<String, Relay> relays,
            SpecRules rules,
            RelayOpener opener,
            RelayLimits limits,
            RelayRequests.Defaults defaults) {
        this.relays = relays;
        this.rules = rules;
        this.opener = opener;
        this.limits = limits;
        this.defaults = defaults;
    }

    /** An open tunnel of a relay. */
    Tunnel tunnel(String relay, String tunnel) {
        return relays.apply(relay)
                .tunnel(tunnel)
                .orElseThrow(() -> new RelayException(
                        RelayException.Kind.NOT_FOUND,
                        null,
                        "no open tunnel '" + tunnel + "' on relay '" + relay + "'"));
    }

    /** See {@link RelayRegistry#push}: checked here, then again on the tunnel's event loop where it is applied. */
    LayerStatus push(String relay, String tunnel, Side side, LayerRequest request) {
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
        rules.checkMaxDepth(side.label(), index + 1, null);
        // The defaults come from the definition the tunnel runs, which a replacement of the relay does not change.
        RelaySpec defined = live.definition().spec();
        Endpoint firstTarget = defined.target().first();
        String defaultServerName = side == Side.EGRESS && index == 0 && firstTarget != null ? firstTarget.host() : null;
        LayerSpec spec = RelayRequests.toLayer(
                request, side, index, defaultServerName, defined.options().handshakeTimeout(), defaults.profile());
        if (layers.stream().anyMatch(layer -> layer.name().equals(spec.name()))) {
            throw InvalidRequestException.of(
                    "name",
                    "a live " + side.label() + " layer is named '" + spec.name()
                            + "' already; names label status and metrics, so they must differ");
        }
        rules.checkVerify("verify", spec);
        // Pushed at the live depth, at or above the minimum depth: a close_notify can only pop it.
        PreparedLayer prepared = opener.prepare(defined.name(), side, List.of(spec), index, stack.minDepth())
                .get(0);
        // Checked again on the tunnel's event loop, where the push happens: a concurrent push or pop may have
        // changed the stack since the checks above.
        return await(live.push(side, prepared, new PushRules(limits.maxDepth(), index)));
    }

    /** See {@link RelayRegistry#pop}: the minimum depth is checked on the tunnel's event loop. */
    void pop(String relay, String tunnel, Side side) {
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
}
