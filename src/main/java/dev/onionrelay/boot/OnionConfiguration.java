package dev.onionrelay.boot;

import dev.onionrelay.credential.CredentialStore;
import dev.onionrelay.credential.StoreKeyMaterial;
import dev.onionrelay.layer.TlsContexts;
import dev.onionrelay.layer.TlsHardening;
import dev.onionrelay.layer.TlsProvider;
import dev.onionrelay.registry.ListenRetry;
import dev.onionrelay.registry.RelayLimits;
import dev.onionrelay.registry.RelayPolicy;
import dev.onionrelay.registry.RelayRegistry;
import dev.onionrelay.registry.file.FileRelayStore;
import dev.onionrelay.relay.CompositeRelayObserver;
import dev.onionrelay.relay.OnionEngine;
import dev.onionrelay.relay.RelayObserver;
import dev.onionrelay.relay.Transport;
import java.util.List;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.boot.context.properties.EnableConfigurationProperties;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

/**
 * Wires the Spring-free engine: credential store, TLS contexts, Netty engine and the relay registry with its declared and
 * restored relays.
 */
@Configuration(proxyBeanMethods = false)
@EnableConfigurationProperties(OnionProperties.class)
public class OnionConfiguration {

    @Bean
    CredentialStore credentialStore(OnionProperties properties) {
        return new CredentialStore(properties.stateDir().resolve("credentials"));
    }

    @Bean(destroyMethod = "close")
    RelayRegistry onionService(
            OnionProperties properties,
            CredentialStore credentials,
            ObjectProvider<RelayObserver> observers,
            DeclarativeRelays declaredRelays) {
        TlsHardening.apply();
        if ("strict".equalsIgnoreCase(properties.tls().profile())) {
            TlsHardening.strictKeyExchange();
        }
        TlsProvider provider = TlsProvider.named(properties.tls().provider());
        List<RelayObserver> all = observers.orderedStream().toList();
        OnionProperties.Policy p = properties.policy();
        OnionProperties.Limits limits = properties.limits();
        RelayPolicy policy = new RelayPolicy(
                p.listenHosts(),
                p.listenPorts(),
                p.targetHosts(),
                p.targetPorts(),
                p.deniedTargets(),
                p.allowInsecureVerify());
        OnionEngine engine = new OnionEngine(
                Transport.named(properties.engine().transport()),
                properties.engine().workerThreads(),
                provider,
                CompositeRelayObserver.of(all),
                new OnionEngine.Settings(limits.maxTunnels(), limits.setupTimeout(), policy));
        RelayRegistry service = new RelayRegistry(
                engine,
                new TlsContexts(new StoreKeyMaterial(credentials), provider),
                new FileRelayStore(properties.stateDir().resolve("relays")),
                policy,
                new RelayLimits(limits.maxRelays(), limits.maxDepth(), limits.maxTunnelsPerRelay()),
                new ListenRetry(limits.listenRetryInitial(), limits.listenRetryMax()));
        try {
            // Declared relays first: on a name clash the declared one wins and the stored one is reported.
            declaredRelays.open(service);
            service.restore();
        } catch (RuntimeException e) {
            service.close();
            throw e;
        }
        return service;
    }
}
