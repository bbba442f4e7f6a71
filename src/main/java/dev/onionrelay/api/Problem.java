package dev.onionrelay.api;

import dev.onionrelay.registry.FieldProblem;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.jspecify.annotations.Nullable;
import org.springframework.http.HttpStatus;
import org.springframework.http.MediaType;
import org.springframework.http.ProblemDetail;
import org.springframework.http.ResponseEntity;

/**
 * The one builder of every RFC 9457 problem body, whoever answers (controllers, servlet filters, the servlet
 * container): {@code type} named after the title ({@link ProblemTypes}), {@code title}, {@code status}, {@code
 * detail}, {@code instance} (the request's path, as the client sent it) and {@code errors} only when fields are at
 * fault. Controllers take it as a {@link ProblemDetail}; filters
 * and the container, where no message converter runs, write it as JSON.
 */
public record Problem(URI type, String title, int status, String detail, List<FieldProblem> errors) {

    public Problem {
        errors = List.copyOf(errors);
    }

    public static Problem of(int status, String title, String detail, List<FieldProblem> errors) {
        return new Problem(ProblemTypes.forTitle(title), title, status, detail, errors);
    }

    public static Problem of(int status, String title, String detail) {
        return of(status, title, detail, List.of());
    }

    /** A problem known only by its status: the status's title. */
    public static Problem of(int status, String detail) {
        return of(status, ProblemTypes.title(status), detail);
    }

    /** This problem for a controller's answer. */
    public ProblemDetail toProblemDetail() {
        ProblemDetail body = ProblemDetail.forStatusAndDetail(HttpStatus.valueOf(status), detail);
        body.setTitle(title);
        body.setType(type);
        if (!errors.isEmpty()) {
            body.setProperty("errors", errors);
        }
        return body;
    }

    /** This problem as a controller's whole answer. */
    public ResponseEntity<ProblemDetail> toResponse() {
        return ResponseEntity.status(status)
                .contentType(MediaType.APPLICATION_PROBLEM_JSON)
                .body(toProblemDetail());
    }

    /** Answers the request with this problem where no message converter runs (a servlet filter). */
    public void write(HttpServletRequest request, HttpServletResponse response) throws IOException {
        response.setStatus(status);
        response.setContentType(MediaType.APPLICATION_PROBLEM_JSON_VALUE);
        response.setCharacterEncoding(StandardCharsets.UTF_8.name());
        response.getWriter().write(json(request.getRequestURI()));
    }

    /**
     * The problem body with the fields the controllers' message converter writes, which adds the request's path as
     * {@code instance} (left out here when the request has none, such as an unparsable request line).
     */
    public String json(@Nullable String instance) {
        StringBuilder out = new StringBuilder();
        out.append("{\"type\":").append(quote(type.toString()));
        out.append(",\"title\":").append(quote(title));
        out.append(",\"status\":").append(status);
        out.append(",\"detail\":").append(quote(detail));
        if (instance != null) {
            out.append(",\"instance\":").append(quote(instance));
        }
        if (!errors.isEmpty()) {
            out.append(",\"errors\":[");
            for (int i = 0; i < errors.size(); i++) {
                FieldProblem error = errors.get(i);
                out.append(i == 0 ? "" : ",")
                        .append("{\"field\":")
                        .append(quote(error.field()))
                        .append(",\"message\":")
                        .append(quote(error.message()))
                        .append('}');
            }
            out.append(']');
        }
        return out.append('}').toString();
    }

    private static String quote(String text) {
        StringBuilder out = new StringBuilder("\"");
        for (char c : text.toCharArray()) {
            switch (c) {
                case '"' -> out.append("\\\"");
                case '\\' -> out.append("\\\\");
                case '\n' -> out.append("\\n");
                default -> {
                    if (c < 0x20 || c == 0x7f) {
                        out.append(String.format("\\u%04x", (int) c));
                    } else {
                        out.append(c);
                    }
                }
            }
        }
        return out.append('"').toString();
    }
}
