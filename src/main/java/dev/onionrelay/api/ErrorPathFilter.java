package dev.onionrelay.api;

import jakarta.servlet.FilterChain;
import jakarta.servlet.ServletException;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import org.springframework.http.HttpStatus;
import org.springframework.web.filter.OncePerRequestFilter;

/**
 * {@code /error} is nothing here: 404 in {@code application/problem+json}, on the API port as on the management port.
 * Spring Boot maps an error controller there for the container's error pages, which {@link ProblemResponses} removes;
 * asked directly it answered 500 {@code application/json} on the API port and 200 {@code {"status":999}} on the
 * management port.
 */
public final class ErrorPathFilter extends OncePerRequestFilter {

    /** Spring Boot's default {@code server.error.path}. */
    static final String ERROR_PATH = "/error";

    @Override
    protected boolean shouldNotFilter(HttpServletRequest request) {
        String path = request.getRequestURI();
        return !(path.equals(ERROR_PATH) || path.startsWith(ERROR_PATH + "/"));
    }

    @Override
    protected void doFilterInternal(HttpServletRequest request, HttpServletResponse response, FilterChain chain)
            throws ServletException, IOException {
        Problem.of(HttpStatus.NOT_FOUND.value(), "nothing is here").write(request, response);
    }
}
