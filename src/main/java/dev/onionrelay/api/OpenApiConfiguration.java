package dev.onionrelay.api;

import io.swagger.v3.oas.models.Components;
import io.swagger.v3.oas.models.OpenAPI;
import io.swagger.v3.oas.models.Operation;
import io.swagger.v3.oas.models.PathItem;
import io.swagger.v3.oas.models.headers.Header;
import io.swagger.v3.oas.models.info.Info;
import io.swagger.v3.oas.models.media.ArraySchema;
import io.swagger.v3.oas.models.media.Content;
import io.swagger.v3.oas.models.media.IntegerSchema;
import io.swagger.v3.oas.models.media.MediaType;
import io.swagger.v3.oas.models.media.ObjectSchema;
import io.swagger.v3.oas.models.media.Schema;
import io.swagger.v3.oas.models.media.StringSchema;
import io.swagger.v3.oas.models.responses.ApiResponse;
import io.swagger.v3.oas.models.responses.ApiResponses;
import io.swagger.v3.oas.models.security.SecurityRequirement;
import io.swagger.v3.oas.models.security.SecurityScheme;
import org.springdoc.core.customizers.OpenApiCustomizer;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.http.HttpHeaders;

/**
 * Title, version and the bearer scheme of the OpenAPI document at {@code /v3/api-docs} (and the Swagger UI at
 * {@code /swagger-ui.html}), and the error answers every operation can give, all {@code application/problem+json}.
 */
@Configuration(proxyBeanMethods = false)
public class OpenApiConfiguration {

    private static final String PROBLEM = "Problem";

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
                                        .scheme("bearer"))
                        .addSchemas(PROBLEM, problemSchema()))
                .addSecurityItem(new SecurityRequirement().addList("bearer"));
    }

    /** Documents the answers springdoc cannot see: 201 instead of 200 for creates, and every problem answer. */
    @Bean
    OpenApiCustomizer documentedProblemAnswers() {
        return openApi -> openApi.getPaths().forEach((path, item) -> item.readOperationsMap()
                .forEach((method, operation) -> document(path, method, operation)));
    }

    private static void document(String path, PathItem.HttpMethod method, Operation operation) {
        ApiResponses responses = operation.getResponses();
        if (responses.containsKey("201") || responses.containsKey("202") || responses.containsKey("204")) {
            responses.remove("200");
        }
        problem(responses, "401", "no or an invalid bearer token");
        if (method != PathItem.HttpMethod.GET) {
            problem(responses, "403", "the token has the read scope only, or policy forbids the request");
        }
        if (path.contains("{")) {
            problem(responses, "404", "no such relay, tunnel or credential");
        }
        if (operation.getRequestBody() != null) {
            problem(
                    responses,
                    "400",
                    "malformed body (not JSON, an unknown field, a wrong type, a duplicate key) or a setting that"
                            + " can never work; 'errors' names each field");
            problem(responses, "413", "the body is larger than onion.limits.max-request-size");
            problem(responses, "415", "the body is not application/json");
            problem(responses, "429", "a limit is reached (relays, depth)");
        }
        if (method == PathItem.HttpMethod.POST || method == PathItem.HttpMethod.DELETE) {
            problem(
                    responses,
                    "409",
                    "conflict: name taken, port in use, credential in use, tunnel not open, minimum depth");
        }
        if (method == PathItem.HttpMethod.PUT) {
            problem(
                    responses,
                    "409",
                    "conflict: port in use, a relay declared in configuration or a credential loaded from files (they"
                            + " change through their own source), an identity that layers present made a trust"
                            + " credential, or a concurrent change of the same relay");
        }
        if (method != PathItem.HttpMethod.GET) {
            // Every write is refused while the fleet's shared store cannot be reached or before the instance is
            // admitted to its fleet; a push or pop also when the tunnel's event loop does not answer in time.
            problem(
                            responses,
                            "503",
                            "temporarily unavailable, nothing was changed: the shared store cannot be reached or this"
                                    + " instance is not ready to take writes (Retry-After), or the tunnel's event loop"
                                    + " did not answer in time")
                    .addHeaderObject(
                            HttpHeaders.RETRY_AFTER,
                            new Header()
                                    .description("seconds to wait before trying again (store unavailable, not ready)")
                                    .schema(new IntegerSchema()));
        }
        if (path.contains("{tunnel}")) {
            // Calls about one tunnel are answered by the fleet member that holds it, wherever they arrive.
            problem(
                    responses,
                    "504",
                    "the call is about a tunnel no answering fleet member holds, and a member that may hold it did not"
                            + " answer within onion.fleet.call-timeout or is SUSPECT (its lease ran out)");
        }
    }

    /** Adds the problem answer unless the operation documents that status itself; returns the answer documented. */
    private static ApiResponse problem(ApiResponses responses, String status, String description) {
        if (!responses.containsKey(status)) {
            responses.addApiResponse(
                    status,
                    new ApiResponse()
                            .description(description)
                            .content(new Content()
                                    .addMediaType(
                                            org.springframework.http.MediaType.APPLICATION_PROBLEM_JSON_VALUE,
                                            new MediaType()
                                                    .schema(new Schema<>().$ref("#/components/schemas/" + PROBLEM)))));
        }
        return responses.get(status);
    }

    private static Schema<?> problemSchema() {
        return new ObjectSchema()
                .description("RFC 9457 problem details")
                .addProperty("type", new StringSchema().example("urn:onion-relay:problem:invalid-request"))
                .addProperty("title", new StringSchema())
                .addProperty("status", new IntegerSchema())
                .addProperty("detail", new StringSchema())
                .addProperty("instance", new StringSchema())
                .addProperty(
                        "errors",
                        new ArraySchema()
                                .items(new ObjectSchema()
                                        .addProperty("field", new StringSchema().example("egress[1].protocols[0]"))
                                        .addProperty("message", new StringSchema())));
    }
}
