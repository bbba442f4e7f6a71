package dev.onionrelay.api.security;

import dev.onionrelay.api.Problem;
import jakarta.servlet.FilterChain;
import jakarta.servlet.ServletException;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import org.springframework.http.HttpMethod;
import org.springframework.http.HttpStatus;
import org.springframework.web.filter.OncePerRequestFilter;

/**
 * {@code onion.api.read-only}: relays and credentials come only from configuration, so the API refuses to create or
 * delete them (403) and keeps everything else: reads, and the live operations on one tunnel of this instance (close,
 * push, pop), which change no stored state. This is how several instances run side by side without a shared store:
 * each serves the relays declared to it, and no API call can make one instance differ from the others.
 */
public final class ReadOnlyApiFilter extends OncePerRequestFilter {

    @Override
    protected boolean shouldNotFilter(HttpServletRequest request) {
        String method = request.getMethod();
        return HttpMethod.GET.matches(method) || HttpMethod.HEAD.matches(method) || HttpMethod.OPTIONS.matches(method);
    }

    @Override
    protected void doFilterInternal(HttpServletRequest request, HttpServletResponse response, FilterChain chain)
            throws ServletException, IOException {
        if (!changesStoredState(request.getRequestURI())) {
            chain.doFilter(request, response);
            return;
        }
        Problem.of(
                        HttpStatus.FORBIDDEN.value(),
                        "read-only API",
                        "this instance runs with onion.api.read-only: relays and credentials come from its configuration"
                                + " (onion.relays, onion.credentials) and cannot be created or deleted over the API;"
                                + " tunnels can still be closed and their layers pushed and popped")
                .write(request, response);
    }

    /** {@code /relays}, {@code /relays/{id}} and everything under {@code /credentials}; not tunnel operations. */
    static boolean changesStoredState(String path) {
        String trimmed = path.endsWith("/") && path.length() > 1 ? path.substring(0, path.length() - 1) : path;
        if (trimmed.equals("/credentials") || trimmed.startsWith("/credentials/")) {
            return true;
        }
        if (trimmed.equals("/relays")) {
            return true;
        }
        return trimmed.startsWith("/relays/") && trimmed.indexOf('/', "/relays/".length()) < 0;
    }
}
