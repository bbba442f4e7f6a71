package dev.onionrelay.boot;

import dev.onionrelay.credential.CredentialRepository;
import dev.onionrelay.credential.CredentialStore;
import dev.onionrelay.credential.StoreKeyMaterial;
import dev.onionrelay.layer.OpenSslHalfClose;
import dev.onionrelay.layer.ProviderChoice;
import dev.onionrelay.layer.TlsContexts;
import dev.onionrelay.layer.TlsHardening;
import dev.onionrelay.layer.TlsProfile;
import dev.onionrelay.registry.ListenRetry;
import dev.onionrelay.registry.RelayLimits;
import dev.onionrelay.registry.RelayPolicy;
import dev.onionrelay.registry.RelayRegistry;
import dev.onionrelay.registry.RelayStore;
import dev.onionrelay.registry.file.FileRelayStore;
import dev.onionrelay.relay.CompositeRelayObserver;
import dev.onionrelay.relay.OnionEngine;
import dev.onionrelay.relay.RelayObserver;
import dev.onionrelay.relay.Transport;
import dev.onionrelay.relay.target.FixedTargetSelector;
import dev.onionrelay.relay.target.TargetSelector;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnProperty;
import org.springframework.boot.context.properties.EnableConfigurationProperties;
import org.springframework.context.SmartLifecycle;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

/**
 * Wires the Spring-free engine: credential store, TLS contexts, Netty engine and the relay registry. The stores and
 * the target selector are replaceable: a bean of the same type defined elsewhere (a shared store for many instances, a
 * CONNECT target) wins. Declared and stored relays open when the application starts ({@link RelayRestore}), not while
 * beans are created.
 */
@Configuration(proxyBeanMethods = false)
@EnableConfigurationProperties(OnionProperties.class)
public class OnionConfiguration {

    private static final Logger LOG = LoggerFactory.getLogger(OnionConfiguration.class);

    @Bean
    @ConditionalOnMissingBean
    @ConditionalOnProperty(name = "onion.store.type", havingValue = "file", matchIfMissing = true)
    CredentialRepository credentialStore(OnionProperties properties) {
        return new CredentialStore(properties.stateDir().resolve("credentials"));
    }

    @Bean
    @ConditionalOnMissingBean
    @ConditionalOnProperty(name = "onion.store.type", havingValue = "file", matchIfMissing = true)
    RelayStore relayStore(OnionProperties properties) {
        return new FileRelayStore(properties.stateDir().resolve("relays"));
    }

    @Bean
    RelayPolicy relayPolicy(OnionProperties properties) {
        OnionProperties.Policy p = properties.policy();
        return new RelayPolicy(
                p.listenHosts(),
                p.listenPorts(),
                p.targetHosts(),
                p.targetPorts(),
                p.deniedTargets(),
                p.allowInsecureVerify());
    }

    /**
     * Fixed targets, their resolved addresses checked against policy at every connect, and the destinations proxy-mode
     * clients ask for, checked fully (host, port, resolved addresses) per tunnel.
     */
    @Bean(destroyMethod = "close")
    @ConditionalOnMissingBean
    TargetSelector targetSelector(RelayPolicy policy) {
        return new FixedTargetSelector(policy::chooseResolved, policy::allowsDestination);
    }

    @Bean(destroyMethod = "close")
    RelayRegistry relayRegistry(
            OnionProperties properties,
            CredentialRepository credentials,
            RelayStore store,
            RelayPolicy policy,
            TargetSelector targets,
            ObjectProvider<RelayObserver> observers) {
        TlsHardening.apply();
        if (properties.tls().profile() == TlsProfile.STRICT) {
            TlsHardening.strictKeyExchange();
        }
        ProviderChoice provider = properties.tls().provider().available();
        if (provider == ProviderChoice.AUTO && properties.tls().profile() == TlsProfile.STRICT) {
            // The strict profile's P-384-only key exchange is a JDK-wide setting: OpenSSL layers would not keep it.
            provider = ProviderChoice.JDK;
        }
        provider.halfCloseWarning(OpenSslHalfClose.available(), OpenSslHalfClose.unavailabilityCause())
                .ifPresent(LOG::warn);
        OnionProperties.Limits limits = properties.limits();
        OnionEngine engine = new OnionEngine(
                Transport.of(properties.engine().transport()),
                properties.engine().workerThreads(),
                provider,
                CompositeRelayObserver.of(observers.orderedStream().toList()),
                new OnionEngine.Settings(
                        limits.maxTunnels(),
                        limits.setupTimeout(),
                        targets,
                        limits.targetDownFor(),
                        properties.fleet().bindAddress(),
                        limits.admission()));
        return new RelayRegistry(
                engine,
                new TlsContexts(new StoreKeyMaterial(credentials), provider),
                store,
                policy,
                new RelayLimits(limits.maxRelays(), limits.maxDepth(), limits.maxTunnelsPerRelay()),
                new ListenRetry(limits.listenRetryInitial(), limits.listenRetryMax()),
                properties.relayDefaults());
    }

    /** The drain of open tunnels at shutdown ({@code onion.shutdown.drain-timeout}). */
    @Bean
    GracefulDrain gracefulDrain(RelayRegistry registry, OnionProperties properties) {
        return new GracefulDrain(registry, properties.shutdown().drainTimeout());
    }

    @Bean
    RelayRestore relayRestore(RelayRegistry registry, DeclarativeRelays declaredRelays) {
        return new RelayRestore(registry, declaredRelays);
    }

    /**
     * Opens the relays when the application starts, before the API accepts requests: the declared ones first (on a
     * name clash the declared one wins and the stored one is reported), then those stored by earlier runs. By then
     * every bean exists, file credentials included, so restored relays that use them find them.
     */
    public static final class RelayRestore implements SmartLifecycle {

        /** Before the web server (which starts a little below the default phase), so no request sees a half state. */
        public static final int PHASE = SmartLifecycle.DEFAULT_PHASE - 1_000_000;

        private final RelayRegistry registry;
        private final DeclarativeRelays declaredRelays;
        private volatile boolean running;

        RelayRestore(RelayRegistry registry, DeclarativeRelays declaredRelays) {
            this.registry = registry;
            this.declaredRelays = declaredRelays;
        }

        @Override
        public void start() {
            declaredRelays.open(registry);
            registry.restore();
            running = true;
        }

        @Override
        public void stop() {
            // The registry closes its relays when the context closes.
            running = false;
        }

        @Override
        public boolean isRunning() {
            return running;
        }

        @Override
        public int getPhase() {
            return PHASE;
        }
    }
}
