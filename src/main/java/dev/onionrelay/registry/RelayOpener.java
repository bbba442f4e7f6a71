package dev.onionrelay.registry;

import dev.onionrelay.layer.LayerConfigurationException;
import dev.onionrelay.layer.LayerSpec;
import dev.onionrelay.layer.PreparedLayer;
import dev.onionrelay.layer.Side;
import dev.onionrelay.layer.TlsContexts;
import dev.onionrelay.relay.OnionEngine;
import dev.onionrelay.relay.Relay;
import dev.onionrelay.relay.RelayException;
import dev.onionrelay.relay.RelaySpec;
import java.io.IOException;
import java.net.BindException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

/**
 * Builds the TLS contexts of a relay's layers and opens (or reopens) the relay on the engine, turning what goes wrong
 * into a {@link RelayException} that names the field at fault. Apart from the registry because creates, restores, the
 * store sync, listen retries, pushes and credential refreshes all need it, and none of them may do it under the
 * registry's lock: a bind can take seconds.
 */
final class RelayOpener {

    private final OnionEngine engine;
    private final TlsContexts contexts;

    RelayOpener(OnionEngine engine, TlsContexts contexts) {
        this.engine = engine;
        this.contexts = contexts;
    }

    /** Builds the TLS context of each configured layer of one side of {@code spec}; see {@link #prepare(String, Side, List, int, int)}. */
    List<PreparedLayer> prepare(Side side, RelaySpec spec) {
        return side == Side.INGRESS
                ? prepare(spec.name(), side, spec.ingress(), 0, spec.options().minIngressDepth())
                : prepare(spec.name(), side, spec.egress(), 0, spec.options().minEgressDepth());
    }

    /**
     * Builds the TLS context of each layer, the first at {@code firstIndex} of a side whose minimum depth is
     * {@code minDepth}, on the engine the provider choice gives that position (see {@code ProviderChoice}); errors name
     * the layer field at fault.
     */
    List<PreparedLayer> prepare(String relay, Side side, List<LayerSpec> layers, int firstIndex, int minDepth) {
        List<PreparedLayer> prepared = new ArrayList<>();
        for (int i = 0; i < layers.size(); i++) {
            try {
                // Where a refused peer was refused, for the log line of its allow.
                String where = "relay=" + relay + " side=" + side.label() + " layer="
                        + layers.get(i).name();
                prepared.add(contexts.prepare(layers.get(i), firstIndex + i, minDepth, where));
            } catch (LayerConfigurationException e) {
                throw new RelayException(
                        RelayException.Kind.INVALID, side.label() + "[" + i + "]." + e.field(), e.getMessage());
            }
        }
        return prepared;
    }

    /** Prepares both sides of {@code spec} and opens the relay: {@link #bind} with freshly built contexts. */
    Relay open(String id, RelaySpec spec, Instant createdAt) {
        return bind(id, spec, prepare(Side.INGRESS, spec), prepare(Side.EGRESS, spec), createdAt);
    }

    /**
     * A create's bind. Its port was free of relays when it was checked, but a store sync may have opened another
     * instance's relay on it since: a refusal for a taken port first runs {@code nameTheHolder}, which throws the
     * refusal that names that relay (as the check would have) once the sync has put it in place.
     */
    Relay bindNamingTheHolder(
            String id,
            RelaySpec spec,
            List<PreparedLayer> ingress,
            List<PreparedLayer> egress,
            Instant createdAt,
            Runnable nameTheHolder) {
        try {
            return bind(id, spec, ingress, egress, createdAt);
        } catch (RelayException e) {
            if (e.kind() == RelayException.Kind.CONFLICT && spec.listen().port() != 0) {
                nameTheHolder.run();
            }
            throw e;
        }
    }

    /** Opens a relay with its prepared layers: a port taken is CONFLICT on {@code listen.port}, any other failure to listen INVALID on {@code listen.host}. */
    Relay bind(String id, RelaySpec spec, List<PreparedLayer> ingress, List<PreparedLayer> egress, Instant createdAt) {
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

    /** Opens a FAILED relay again with freshly built contexts; any failure to listen is CONFLICT on {@code listen.port}. */
    void reopen(Relay relay) {
        RelaySpec spec = relay.spec();
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
    }
}
