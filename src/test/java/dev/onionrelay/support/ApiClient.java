package dev.onionrelay.support;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import org.jspecify.annotations.Nullable;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/** A curl-like client for the REST API in tests: real HTTP, bearer token, JSON in and out. */
public final class ApiClient {

    public static final JsonMapper JSON = JsonMapper.builder().build();

    private final HttpClient http =
            HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    private final String base;
    private final @Nullable String token;

    public ApiClient(int port, @Nullable String token) {
        this.base = "http://127.0.0.1:" + port;
        this.token = token;
    }

    public ApiClient withToken(@Nullable String otherToken) {
        return new ApiClient(Integer.parseInt(base.substring(base.lastIndexOf(':') + 1)), otherToken);
    }

    /** A response: status, content type, raw body, and the body as JSON when it is JSON. */
    public record Response(
            int status,
            String contentType,
            String body,
            @Nullable String location,
            java.net.http.HttpHeaders headers) {

        /** A response header's first value. */
        public @Nullable String header(String name) {
            return headers.firstValue(name).orElse(null);
        }

        public JsonNode json() {
            return JSON.readTree(body);
        }

        @Override
        public String toString() {
            return status + " " + contentType + " " + (body.length() > 500 ? body.substring(0, 500) + "…" : body);
        }
    }

    public Response get(String path) {
        return send("GET", path, null);
    }

    public Response delete(String path) {
        return send("DELETE", path, null);
    }

    public Response post(String path, String json) {
        return send("POST", path, json);
    }

    public Response post(String path, Object body) {
        return send("POST", path, JSON.writeValueAsString(body));
    }

    public Response send(String method, String path, @Nullable String json) {
        HttpRequest.Builder request =
                HttpRequest.newBuilder(URI.create(base + path)).timeout(Duration.ofSeconds(20));
        if (token != null) {
            request.header("Authorization", "Bearer " + token);
        }
        if (json != null) {
            request.header("Content-Type", "application/json");
            request.method(method, HttpRequest.BodyPublishers.ofString(json));
        } else {
            request.method(method, HttpRequest.BodyPublishers.noBody());
        }
        try {
            HttpResponse<String> response = http.send(request.build(), HttpResponse.BodyHandlers.ofString());
            return new Response(
                    response.statusCode(),
                    response.headers().firstValue("Content-Type").orElse(""),
                    response.body(),
                    response.headers().firstValue("Location").orElse(null),
                    response.headers());
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }
}
