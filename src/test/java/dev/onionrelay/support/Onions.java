package dev.onionrelay.support;

import dev.onionrelay.layer.LayerConfigurationException;
import dev.onionrelay.layer.LayerSpec;
import dev.onionrelay.layer.PreparedLayer;
import dev.onionrelay.layer.ProviderChoice;
import dev.onionrelay.layer.TlsContexts;
import dev.onionrelay.layer.TlsProvider;
import dev.onionrelay.relay.Endpoint;
import dev.onionrelay.relay.OnionEngine;
import dev.onionrelay.relay.Relay;
import dev.onionrelay.relay.RelayObserver;
import dev.onionrelay.relay.RelayOptions;
import dev.onionrelay.relay.RelaySpec;
import dev.onionrelay.relay.target.TargetSpec;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;

/** An engine plus the PKI to build relays on loopback in tests, without Spring. */
public final class Onions implements AutoCloseable {

    public final TestPki pki;
    public final OnionEngine engine;
    private final TlsContexts contexts;
    private final List<Relay> relays = new ArrayList<>();

    public Onions() {
        this(RelayObserver.NONE);
    }

    /** The default provider choice, or {@code -Donion.tls.provider=...}. */
    public Onions(RelayObserver observer) {
        this(ProviderChoice.fromSystemProperty(), observer);
    }

    /** An engine on {@code provider}, for tests that run under each provider whatever the build chose. */
    public Onions(TlsProvider provider, RelayObserver observer) {
        this(ProviderChoice.of(provider), observer);
    }

    /** An engine whose layers run where {@code provider} puts them. */
    public Onions(ProviderChoice provider, RelayObserver observer) {
        this(provider, observer, OnionEngine.Settings.DEFAULTS);
    }

    /** An engine with other engine-wide settings (admission limits, set-up timeout...). */
    public Onions(OnionEngine.Settings settings) {
        this(ProviderChoice.fromSystemProperty(), RelayObserver.NONE, settings);
    }

    public Onions(ProviderChoice provider, RelayObserver observer, OnionEngine.Settings settings) {
        this(new TestPki(), provider, observer, settings);
    }

    /**
     * An engine of its own on the same PKI as another: a relay in another process, as an entry relay is in production
     * (its event loops are not the ones of the relay it dials).
     */
    public Onions(TestPki pki, ProviderChoice provider, RelayObserver observer, OnionEngine.Settings settings) {
        this.pki = pki;
        engine = new OnionEngine(dev.onionrelay.relay.Transport.preferred(), 2, provider, observer, settings);
        contexts = new TlsContexts(pki, provider);
    }

    public static RelayOptions options(int minIngress, int minEgress) {
        return new RelayOptions(
                RelayOptions.DEFAULT_MAX_TUNNELS,
                Layers.TIMEOUT,
                Duration.ofSeconds(5),
                Duration.ofMinutes(5),
                minIngress,
                minEgress);
    }

    /** Opens a relay on an ephemeral loopback port whose minimum depths are its static depths. */
    public Relay relay(String name, int targetPort, List<LayerSpec> ingress, List<LayerSpec> egress) throws Exception {
        return relay(name, targetPort, ingress, egress, options(ingress.size(), egress.size()));
    }

    public Relay relay(
            String name, int targetPort, List<LayerSpec> ingress, List<LayerSpec> egress, RelayOptions options)
            throws Exception {
        RelaySpec spec = new RelaySpec(
                name,
                new Endpoint("127.0.0.1", 0),
                TargetSpec.fixed(new Endpoint("127.0.0.1", targetPort)),
                ingress,
                egress,
                options);
        Relay relay = engine.open(
                UUID.randomUUID().toString(),
                spec,
                prepare(ingress, options.minIngressDepth()),
                prepare(egress, options.minEgressDepth()),
                Instant.now());
        relays.add(relay);
        return relay;
    }

    private List<PreparedLayer> prepare(List<LayerSpec> specs, int minDepth) throws LayerConfigurationException {
        List<PreparedLayer> prepared = new ArrayList<>();
        for (int i = 0; i < specs.size(); i++) {
            prepared.add(contexts.prepare(specs.get(i), i, minDepth));
        }
        return prepared;
    }

    /** A layer prepared for a push onto a live stack of {@code depth} layers whose minimum depth is {@code minDepth}. */
    public PreparedLayer preparePush(LayerSpec spec, int depth, int minDepth) throws LayerConfigurationException {
        return contexts.prepare(spec, depth, minDepth);
    }

    public static int port(Relay relay) {
        return relay.spec().listen().port();
    }

    @Override
    public void close() {
        relays.forEach(Relay::stop);
        engine.close();
    }
}
