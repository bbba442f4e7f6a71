package dev.onionrelay.api.connector;

import dev.onionrelay.api.security.ApiProperties;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.binder.MeterBinder;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.ToLongFunction;
import org.springframework.boot.tomcat.servlet.TomcatServletWebServerFactory;
import org.springframework.boot.web.server.WebServerFactoryCustomizer;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

/**
 * The API port's Tomcat (only this one: the management port has its own Tomcat and keeps Tomcat's defaults): the
 * {@link GuardedNioProtocol} with {@code onion.api.max-connections-per-address} and {@code
 * onion.api.request-head-timeout}, and the {@link UnreadBodyValve}. What they refuse is counted in {@code
 * onion_api_connections_closed_total}.
 */
@Configuration(proxyBeanMethods = false)
public class ApiConnectorConfiguration {

    /** The API port's endpoint once Tomcat has made it, for the metrics. */
    private final AtomicReference<GuardedNioEndpoint> endpoint = new AtomicReference<>();

    @Bean
    WebServerFactoryCustomizer<TomcatServletWebServerFactory> guardedApiConnector(ApiProperties api) {
        return factory -> {
            factory.setProtocol(GuardedNioProtocol.class.getName());
            factory.addEngineValves(new UnreadBodyValve());
            factory.addConnectorCustomizers(connector -> {
                if (connector.getProtocolHandler() instanceof GuardedNioProtocol protocol) {
                    protocol.guard().setMaxConnectionsPerAddress(api.maxConnectionsPerAddress());
                    protocol.guard()
                            .setRequestHeadTimeoutMillis(
                                    api.requestHeadTimeout().toMillis());
                    endpoint.set(protocol.guard());
                }
            });
        };
    }

    @Bean
    MeterBinder apiConnectionMeters() {
        return registry -> {
            closed(registry, "per_address_limit", GuardedNioEndpoint::refusedPerAddress);
            closed(registry, "head_timeout", GuardedNioEndpoint::headTimeouts);
        };
    }

    private void closed(MeterRegistry registry, String reason, ToLongFunction<GuardedNioEndpoint> count) {
        FunctionCounter.builder("onion.api.connections.closed", endpoint, reference -> {
                    GuardedNioEndpoint current = reference.get();
                    return current == null ? 0 : count.applyAsLong(current);
                })
                .tag("reason", reason)
                .description("API connections closed by a guard of the API port before a request was served")
                .register(registry);
    }
}
