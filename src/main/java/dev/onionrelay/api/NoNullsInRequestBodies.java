package dev.onionrelay.api;

import dev.onionrelay.registry.FieldProblem;
import dev.onionrelay.registry.InvalidRequestException;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.lang.reflect.Type;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.springframework.core.MethodParameter;
import org.springframework.http.HttpHeaders;
import org.springframework.http.HttpInputMessage;
import org.springframework.http.converter.HttpMessageConverter;
import org.springframework.web.bind.annotation.ControllerAdvice;
import org.springframework.web.servlet.mvc.method.annotation.RequestBodyAdviceAdapter;
import tools.jackson.core.JacksonException;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * Refuses {@code null} anywhere in a request body, for a field as for a list entry, with a 400 naming every one
 * ({@code listen}, {@code egress[0].alpn[1]}). The request records cannot tell {@code null} from a field left out, so
 * {@code null} counted as absent: {@code "listen": null} gave a random port. A field is left out to get its default.
 * Checked on the body as JSON before it is bound (Jackson's own {@code Nulls.FAIL} also refuses a field that is
 * merely absent from a record); a body that is not JSON is left to the binding, which says what is wrong with it.
 */
@ControllerAdvice
public class NoNullsInRequestBodies extends RequestBodyAdviceAdapter {

    private static final JsonMapper TREE = JsonMapper.builder().build();
    private static final int MAX_REPORTED = 20;

    @Override
    public boolean supports(
            MethodParameter parameter, Type targetType, Class<? extends HttpMessageConverter<?>> converterType) {
        return true;
    }

    @Override
    public HttpInputMessage beforeBodyRead(
            HttpInputMessage input,
            MethodParameter parameter,
            Type targetType,
            Class<? extends HttpMessageConverter<?>> converterType)
            throws IOException {
        byte[] body = input.getBody().readAllBytes();
        List<FieldProblem> nulls = new ArrayList<>();
        try {
            collectNulls(TREE.readTree(body), "", nulls);
        } catch (JacksonException e) {
            // Not JSON: the binding reports it.
        }
        if (!nulls.isEmpty()) {
            throw new InvalidRequestException(nulls);
        }
        return new HttpInputMessage() {
            @Override
            public InputStream getBody() {
                return new ByteArrayInputStream(body);
            }

            @Override
            public HttpHeaders getHeaders() {
                return input.getHeaders();
            }
        };
    }

    /** Every null under {@code node}, by its path in the request. */
    static void collectNulls(JsonNode node, String path, List<FieldProblem> nulls) {
        if (nulls.size() >= MAX_REPORTED) {
            return;
        }
        if (node.isNull()) {
            nulls.add(new FieldProblem(
                    path.isEmpty() ? "(body)" : path, "null is not accepted; leave the field out for its default"));
        } else if (node.isObject()) {
            for (Map.Entry<String, JsonNode> field : node.properties()) {
                String name = JsonProblems.shorten(field.getKey());
                collectNulls(field.getValue(), path.isEmpty() ? name : path + "." + name, nulls);
            }
        } else if (node.isArray()) {
            for (int i = 0; i < node.size(); i++) {
                collectNulls(node.get(i), path + "[" + i + "]", nulls);
            }
        }
    }
}
