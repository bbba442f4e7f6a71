package dev.onionrelay.api.security;

import dev.onionrelay.api.FleetAdmissionFilter;
import dev.onionrelay.api.StoreStalenessFilter;
import dev.onionrelay.api.StrictJson;
import dev.onionrelay.boot.OnionProperties;
import dev.onionrelay.store.postgres.FleetAdmission;
import dev.onionrelay.store.postgres.FleetSync;
import dev.onionrelay.store.postgres.PgStore;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBooleanProperty;
import org.springframework.boot.context.properties.EnableConfigurationProperties;
import org.springframework.boot.jackson.autoconfigure.JsonMapperBuilderCustomizer;
import org.springframework.boot.web.servlet.FilterRegistrationBean;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.core.Ordered;

/**
 * Input wiring: request bodies read strictly, and the API port's filters (bearer tokens first, so that nothing of an
 * unauthenticated request's body is read, then the read-only mode, then body size and time; the management port has
 * none of them).
 */
@Configuration(proxyBeanMethods = false)
@EnableConfigurationProperties(ApiProperties.class)
public class WebConfiguration {

    /**
     * With a fleet's store and no configured tokens, the admin token is the fleet's: read (or, for the fleet's very
     * first instance, generated and stored) as part of admission, never made here alone.
     */
    @Bean
    ApiTokens apiTokens(ApiProperties api, OnionProperties properties, ObjectProvider<PgStore> fleetStore) {
        PgStore store = fleetStore.getIfAvailable();
        if (store == null) {
            return ApiTokens.load(api, properties.stateDir());
        }
        ApiTokens tokens = ApiTokens.loadForFleet(api, properties.stateDir());
        if (tokens.awaitsFleetAdmin()) {
            store.whenAdmitted(() -> tokens.adoptFleetAdmin(store.adminToken(ApiTokens::newToken)));
        }
        return tokens;
    }

    /** With a fleet's store: every write is refused (503, naming why) until this instance is admitted to the fleet. */
    @Bean
    FilterRegistrationBean<FleetAdmissionFilter> fleetAdmissionFilter(ObjectProvider<PgStore> fleetStore) {
        FilterRegistrationBean<FleetAdmissionFilter> registration =
                new FilterRegistrationBean<>(new FleetAdmissionFilter(() -> {
                    PgStore store = fleetStore.getIfAvailable();
                    return store == null ? FleetAdmission.ADMITTED : FleetAdmission.of(store);
                }));
        // After the token check: an unauthenticated caller learns nothing about the instance.
        registration.setOrder(Ordered.HIGHEST_PRECEDENCE + 25);
        return registration;
    }

    /** Request bodies are read strictly: unknown fields, coerced values and duplicate keys are 400s. */
    @Bean
    JsonMapperBuilderCustomizer strictRequestBodies() {
        return StrictJson::apply;
    }

    @Bean
    FilterRegistrationBean<RequestSizeFilter> requestSizeFilter(OnionProperties properties, ApiProperties api) {
        FilterRegistrationBean<RequestSizeFilter> registration = new FilterRegistrationBean<>(
                new RequestSizeFilter(properties.limits().maxRequestSize().toBytes(), api.requestBodyTimeout()));
        registration.setOrder(Ordered.HIGHEST_PRECEDENCE + 40);
        return registration;
    }

    @Bean
    FilterRegistrationBean<BearerTokenFilter> bearerTokenFilter(ApiTokens tokens) {
        FilterRegistrationBean<BearerTokenFilter> registration =
                new FilterRegistrationBean<>(new BearerTokenFilter(tokens));
        registration.setOrder(Ordered.HIGHEST_PRECEDENCE + 20);
        return registration;
    }

    /** After the token check, so that an unauthenticated caller learns nothing about the instance's mode. */
    @Bean
    @ConditionalOnBooleanProperty("onion.api.read-only")
    FilterRegistrationBean<ReadOnlyApiFilter> readOnlyApiFilter() {
        FilterRegistrationBean<ReadOnlyApiFilter> registration = new FilterRegistrationBean<>(new ReadOnlyApiFilter());
        registration.setOrder(Ordered.HIGHEST_PRECEDENCE + 30);
        return registration;
    }

    /** With a shared store: answers say when they may be stale (the store cannot be reached). */
    @Bean
    FilterRegistrationBean<StoreStalenessFilter> storeStalenessFilter(ObjectProvider<FleetSync> fleetSync) {
        FilterRegistrationBean<StoreStalenessFilter> registration =
                new FilterRegistrationBean<>(new StoreStalenessFilter(() -> {
                    FleetSync sync = fleetSync.getIfAvailable();
                    return sync == null ? null : sync.status();
                }));
        registration.setOrder(Ordered.HIGHEST_PRECEDENCE + 5);
        return registration;
    }
}
