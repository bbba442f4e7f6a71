package dev.onionrelay.api;

import dev.onionrelay.credential.CredentialException;
import dev.onionrelay.fleet.MemberUnreachableException;
import dev.onionrelay.registry.FieldProblem;
import dev.onionrelay.registry.InvalidRequestException;
import dev.onionrelay.relay.RelayException;
import dev.onionrelay.store.StoreConfigurationException;
import dev.onionrelay.store.StoreUnavailableException;
import java.util.ArrayList;
import java.util.List;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.http.HttpHeaders;
import org.springframework.http.HttpStatus;
import org.springframework.http.HttpStatusCode;
import org.springframework.http.MediaType;
import org.springframework.http.ProblemDetail;
import org.springframework.http.ResponseEntity;
import org.springframework.http.converter.HttpMessageNotReadableException;
import org.springframework.web.bind.annotation.ExceptionHandler;
import org.springframework.web.bind.annotation.RestControllerAdvice;
import org.springframework.web.context.request.WebRequest;
import org.springframework.web.servlet.mvc.method.annotation.ResponseEntityExceptionHandler;

/**
 * Turns every error into RFC 9457 {@code application/problem+json}: domain exceptions by kind, framework exceptions
 * (unknown path, wrong method, unreadable body) through Spring's own handler. Messages never quote request bodies.
 */
@RestControllerAdvice
public class ApiExceptionHandler extends ResponseEntityExceptionHandler {

    private static final Logger LOG = LoggerFactory.getLogger(ApiExceptionHandler.class);

    @ExceptionHandler(InvalidRequestException.class)
    ResponseEntity<ProblemDetail> invalid(InvalidRequestException e) {
        return problem(HttpStatus.BAD_REQUEST, "invalid request", e.getMessage(), e.errors());
    }

    @ExceptionHandler(RelayException.class)
    ResponseEntity<ProblemDetail> relay(RelayException e) {
        HttpStatus status =
                switch (e.kind()) {
                    case INVALID -> HttpStatus.BAD_REQUEST;
                    case FORBIDDEN -> HttpStatus.FORBIDDEN;
                    case NOT_FOUND -> HttpStatus.NOT_FOUND;
                    case CONFLICT -> HttpStatus.CONFLICT;
                    case LIMIT -> HttpStatus.TOO_MANY_REQUESTS;
                    case UNAVAILABLE -> HttpStatus.SERVICE_UNAVAILABLE;
                };
        return problem(status, title(status), e.getMessage(), fieldErrors(e.field(), e.getMessage()));
    }

    @ExceptionHandler(CredentialException.class)
    ResponseEntity<ProblemDetail> credential(CredentialException e) {
        HttpStatus status =
                switch (e.kind()) {
                    case INVALID -> HttpStatus.BAD_REQUEST;
                    case CONFLICT -> HttpStatus.CONFLICT;
                    case NOT_FOUND -> HttpStatus.NOT_FOUND;
                    case UNAVAILABLE -> HttpStatus.SERVICE_UNAVAILABLE;
                };
        return problem(status, title(status), e.getMessage(), fieldErrors(e.field(), e.getMessage()));
    }

    /**
     * The shared store cannot be reached: nothing of the change was applied, relays keep serving, and the client
     * should try again after {@code Retry-After} seconds.
     */
    @ExceptionHandler(StoreUnavailableException.class)
    ResponseEntity<ProblemDetail> storeUnavailable(StoreUnavailableException e) {
        LOG.warn("{}", e.getMessage());
        long seconds = Math.max(1, e.retryAfter().toSeconds());
        return ResponseEntity.status(HttpStatus.SERVICE_UNAVAILABLE)
                .header(HttpHeaders.RETRY_AFTER, Long.toString(seconds))
                .contentType(MediaType.APPLICATION_PROBLEM_JSON)
                .body(Problem.of(
                                HttpStatus.SERVICE_UNAVAILABLE.value(),
                                ProblemTypes.STORE_UNAVAILABLE,
                                "the shared store cannot be reached; nothing was changed, relays keep serving."
                                        + " Try again later.",
                                List.of())
                        .toProblemDetail());
    }

    /**
     * The shared store answers but cannot be used as configured (authentication refused, a table missing, a schema
     * newer than this version, another key): 503 naming the problem, never a 500; an operator must act, so no
     * Retry-After. One log line, no stack trace: the store's health names it too.
     */
    @ExceptionHandler(StoreConfigurationException.class)
    ResponseEntity<ProblemDetail> storeMisconfigured(StoreConfigurationException e) {
        LOG.warn("store configuration error: {}", e.getMessage());
        return problem(
                HttpStatus.SERVICE_UNAVAILABLE,
                "store misconfigured",
                "the shared store cannot be used as configured: " + e.getMessage() + "; nothing was changed",
                List.of());
    }

    /** Only another member can answer, and it did not in time: 504 naming it, never a wait without end. */
    @ExceptionHandler(MemberUnreachableException.class)
    ResponseEntity<ProblemDetail> memberUnreachable(MemberUnreachableException e) {
        LOG.warn("{}", e.getMessage());
        return problem(HttpStatus.GATEWAY_TIMEOUT, "member unreachable", e.getMessage(), List.of());
    }

    @Override
    protected @Nullable ResponseEntity<Object> handleHttpMessageNotReadable(
            HttpMessageNotReadableException ex, HttpHeaders headers, HttpStatusCode status, WebRequest request) {
        JsonProblems.Described described = JsonProblems.describe(ex.getCause());
        return ResponseEntity.badRequest()
                .contentType(MediaType.APPLICATION_PROBLEM_JSON)
                .body(Problem.of(
                                HttpStatus.BAD_REQUEST.value(),
                                "malformed request",
                                described.detail(),
                                described.field() != null ? List.of(described.field()) : List.of())
                        .toProblemDetail());
    }

    /** Spring's own problems (unknown path, wrong method or media type) get our type scheme too. */
    @Override
    protected ResponseEntity<Object> createResponseEntity(
            @Nullable Object body, HttpHeaders headers, HttpStatusCode statusCode, WebRequest request) {
        Object answer = body;
        if (body instanceof ProblemDetail problem && !ProblemTypes.isOurs(problem.getType())) {
            String detail = problem.getDetail();
            answer = Problem.of(statusCode.value(), detail != null ? detail : ProblemTypes.title(statusCode.value()))
                    .toProblemDetail();
        }
        return super.createResponseEntity(answer, headers, statusCode, request);
    }

    /**
     * A failure no rule describes is a defect, not a passing condition: 500 with a generic detail (its message may name
     * internals), logged with its stack trace. Conditions worth retrying are {@code RelayException} UNAVAILABLE (503).
     */
    @ExceptionHandler(RuntimeException.class)
    ResponseEntity<ProblemDetail> unexpected(RuntimeException e) {
        LOG.error("request failed", e);
        return problem(
                HttpStatus.INTERNAL_SERVER_ERROR,
                ProblemTypes.title(500),
                "the request failed unexpectedly; the service log has the cause",
                List.of());
    }

    private static List<FieldProblem> fieldErrors(@Nullable String field, String message) {
        List<FieldProblem> errors = new ArrayList<>();
        if (field != null) {
            errors.add(new FieldProblem(field, message));
        }
        return errors;
    }

    private static String title(HttpStatus status) {
        return switch (status) {
            case BAD_REQUEST -> "invalid request";
            case FORBIDDEN -> "forbidden by policy";
            case NOT_FOUND -> "not found";
            case CONFLICT -> "conflict";
            case TOO_MANY_REQUESTS -> "limit reached";
            case SERVICE_UNAVAILABLE -> "temporarily unavailable";
            default -> status.getReasonPhrase();
        };
    }

    static ResponseEntity<ProblemDetail> problem(
            HttpStatus status, String title, String detail, List<FieldProblem> errors) {
        return Problem.of(status.value(), title, detail, errors).toResponse();
    }
}
