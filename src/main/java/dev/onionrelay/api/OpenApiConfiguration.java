package dev.onionrelay.api;

import io.swagger.v3.oas.models.Components;
import io.swagger.v3.oas.models.OpenAPI;
import io.swagger.v3.oas.models.info.Info;
import io.swagger.v3.oas.models.security.SecurityRequirement;
import io.swagger.v3.oas.models.security.SecurityScheme;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

/** Title, version and the bearer scheme of the OpenAPI document at {@code /v3/api-docs}. */
@Configuration(proxyBeanMethods = false)
public class OpenApiConfiguration {

    @Bean
    OpenAPI onionRelayOpenApi() {
        return new OpenAPI()
                .info(new Info()
                        .title("onion-relay API")
                        .version("v1")
                        .description(
                                "Nested-TLS relays: TLS over TLS over TLS, each layer with its own keys and trust"))
                .components(new Components()
                        .addSecuritySchemes(
                                "bearer",
                                new SecurityScheme()
                                        .type(SecurityScheme.Type.HTTP)
                                        .scheme("bearer")))
                .addSecurityItem(new SecurityRequirement().addList("bearer"));
    }
}
