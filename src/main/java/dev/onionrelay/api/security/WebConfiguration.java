package dev.onionrelay.api.security;

import dev.onionrelay.api.StrictJson;
import dev.onionrelay.boot.DeclaredRelayKeys;
import dev.onionrelay.boot.OnionProperties;
import org.springframework.boot.jackson.autoconfigure.JsonMapperBuilderCustomizer;
import org.springframework.boot.web.servlet.FilterRegistrationBean;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.core.Ordered;
import org.springframework.core.env.Environment;

/**
 * Input wiring: request bodies and declared relays read strictly, and the API port's filters (body size first, then
 * bearer tokens; the management port has neither).
 */
@Configuration(proxyBeanMethods = false)
public class WebConfiguration {

    @Bean
    ApiTokens apiTokens(OnionProperties properties) {
        return ApiTokens.load(properties);
    }

    /** Declared relays are read as strictly as request bodies: a key that names nothing stops the start. */
    @Bean
    DeclaredRelayKeys declaredRelayKeys(Environment environment) {
        return DeclaredRelayKeys.checked(environment);
    }

    /** Request bodies are read strictly: unknown fields, coerced values and duplicate keys are 400s. */
    @Bean
    JsonMapperBuilderCustomizer strictRequestBodies() {
        return StrictJson::apply;
    }

    @Bean
    FilterRegistrationBean<RequestSizeFilter> requestSizeFilter(OnionProperties properties) {
        FilterRegistrationBean<RequestSizeFilter> registration = new FilterRegistrationBean<>(
                new RequestSizeFilter(properties.limits().maxRequestSize().toBytes()));
        registration.setOrder(Ordered.HIGHEST_PRECEDENCE + 10);
        return registration;
    }

    @Bean
    FilterRegistrationBean<BearerTokenFilter> bearerTokenFilter(ApiTokens tokens) {
        FilterRegistrationBean<BearerTokenFilter> registration =
                new FilterRegistrationBean<>(new BearerTokenFilter(tokens));
        registration.setOrder(Ordered.HIGHEST_PRECEDENCE + 20);
        return registration;
    }
}
