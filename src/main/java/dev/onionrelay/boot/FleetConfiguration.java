package dev.onionrelay.boot;

import dev.onionrelay.fleet.DuplicateInstanceException;
import dev.onionrelay.fleet.FleetMembers;
import dev.onionrelay.fleet.JdbcFleetMembers;
import dev.onionrelay.fleet.MemberClient;
import dev.onionrelay.fleet.SingleInstance;
import dev.onionrelay.fleet.TunnelIds;
import dev.onionrelay.observe.FleetAdmissionHealthIndicator;
import dev.onionrelay.store.StoreConfigurationException;
import dev.onionrelay.store.postgres.FleetAdmission;
import dev.onionrelay.store.postgres.PgStore;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import java.net.InetAddress;
import java.net.UnknownHostException;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.boot.autoconfigure.condition.ConditionalOnProperty;
import org.springframework.boot.info.BuildProperties;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.core.env.Environment;

/**
 * This instance's place in its fleet: its name ({@code onion.fleet.instance-name}, default the host name), the URL
 * the other instances reach its API on ({@code onion.fleet.advertise-url}, default {@code http://<host>:<server.port>}),
 * the live members (a lease in the shared store with {@code onion.store.type: postgres}, this instance alone with the
 * file store), the client that asks the other members, and the {@code onion.fleet.members} gauge.
 */
@Configuration(proxyBeanMethods = false)
public class FleetConfiguration {

    /** Members in the shared store; a second live instance of the same name stops the start with the reason. */
    @Configuration(proxyBeanMethods = false)
    @ConditionalOnProperty(name = "onion.store.type", havingValue = "postgres")
    static class SharedStore {

        @Bean(destroyMethod = "close")
        JdbcFleetMembers fleetMembers(
                PgStore store,
                OnionProperties properties,
                Environment environment,
                ObjectProvider<BuildProperties> build) {
            JdbcFleetMembers members = new JdbcFleetMembers(
                    store.dataSource(),
                    instanceName(properties),
                    advertiseUrl(properties, environment),
                    version(build),
                    properties.fleet().lease(),
                    store::prepared);
            try {
                members.join();
            } catch (DuplicateInstanceException e) {
                throw new StoreConfigurationException(
                        e.getMessage(),
                        "Stop the other instance, or start this one with another onion.fleet.instance-name.");
            }
            members.startHeartbeat();
            return members;
        }

        /** Tunnel ids name their instance, so a call about a tunnel goes to its holder alone. */
        @Bean
        TunnelIds tunnelIds(OnionProperties properties) {
            return TunnelIds.carrying(instanceName(properties));
        }
    }

    /** The file store shares nothing: the fleet is this instance. */
    @Configuration(proxyBeanMethods = false)
    @ConditionalOnProperty(name = "onion.store.type", havingValue = "file", matchIfMissing = true)
    static class OwnState {

        @Bean
        SingleInstance fleetMembers(
                OnionProperties properties, Environment environment, ObjectProvider<BuildProperties> build) {
            return new SingleInstance(instanceName(properties), advertiseUrl(properties, environment), version(build));
        }

        /** One instance holds every tunnel: ids stay the engine's. */
        @Bean
        TunnelIds tunnelIds() {
            return TunnelIds.plain();
        }
    }

    /**
     * The {@code fleetAdmission} health component, part of readiness: DOWN, naming why, until this instance has checked
     * its key and API tokens against the fleet's store; always UP with the file store (no fleet to be admitted to).
     */
    @Bean
    FleetAdmissionHealthIndicator fleetAdmissionHealthIndicator(ObjectProvider<PgStore> store) {
        return new FleetAdmissionHealthIndicator(() -> {
            PgStore shared = store.getIfAvailable();
            return shared == null ? FleetAdmission.ADMITTED : FleetAdmission.of(shared);
        });
    }

    @Bean
    MemberClient memberClient(OnionProperties properties) {
        return new MemberClient(properties.fleet().callTimeout());
    }

    @Bean
    Gauge fleetMembersGauge(MeterRegistry registry, FleetMembers members) {
        return Gauge.builder(
                        "onion.fleet.members", members, fleet -> fleet.live().size())
                .description("Live instances of this instance's fleet, itself included")
                .register(registry);
    }

    static String instanceName(OnionProperties properties) {
        String configured = properties.fleet().instanceName();
        return configured != null && !configured.isBlank() ? configured : hostName();
    }

    static String advertiseUrl(OnionProperties properties, Environment environment) {
        String configured = properties.fleet().advertiseUrl();
        if (configured != null && !configured.isBlank()) {
            return configured.endsWith("/") ? configured.substring(0, configured.length() - 1) : configured;
        }
        return "http://" + hostName() + ":" + environment.getProperty("server.port", "8080");
    }

    private static String version(ObjectProvider<BuildProperties> build) {
        BuildProperties properties = build.getIfAvailable();
        if (properties != null && properties.getVersion() != null) {
            return properties.getVersion();
        }
        String manifest = FleetConfiguration.class.getPackage().getImplementationVersion();
        return manifest != null ? manifest : "unknown";
    }

    private static String hostName() {
        try {
            return InetAddress.getLocalHost().getHostName();
        } catch (UnknownHostException e) {
            return "localhost";
        }
    }
}
