package dev.onionrelay.api.security;

import dev.onionrelay.api.Problem;
import jakarta.servlet.FilterChain;
import jakarta.servlet.ServletException;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.http.HttpMethod;
import org.springframework.http.HttpStatus;
import org.springframework.web.filter.OncePerRequestFilter;

/**
 * Guards the API port: a bearer token is required everywhere but the OpenAPI document; GET and HEAD need the read
 * scope, everything else admin. Every mutating call leaves an audit line (token name, method, path, status), never
 * a secret.
 */
public final class BearerTokenFilter extends OncePerRequestFilter {

    private static final Logger AUDIT = LoggerFactory.getLogger("dev.onionrelay.audit");

    private final ApiTokens tokens;

    public BearerTokenFilter(ApiTokens tokens) {
        this.tokens = tokens;
    }

    @Override
    protected boolean shouldNotFilter(HttpServletRequest request) {
        String path = request.getRequestURI();
        return path.startsWith("/v3/api-docs") || path.startsWith("/swagger-ui");
    }

    @Override
    protected void doFilterInternal(HttpServletRequest request, HttpServletResponse response, FilterChain chain)
            throws ServletException, IOException {
        String header = request.getHeader("Authorization");
        Optional<ApiTokens.Token> token = Optional.empty();
        if (header != null && header.regionMatches(true, 0, "Bearer ", 0, 7)) {
            token = tokens.match(header.substring(7).trim());
        }
        boolean reading = HttpMethod.GET.matches(request.getMethod()) || HttpMethod.HEAD.matches(request.getMethod());
        if (token.isEmpty()) {
            response.setHeader("WWW-Authenticate", "Bearer");
            Problem.of(
                            HttpStatus.UNAUTHORIZED.value(),
                            "missing or invalid bearer token",
                            "send 'Authorization: Bearer <token>'; without configured tokens the admin token is in "
                                    + "<state-dir>/admin.token")
                    .write(request, response);
            audit(request, "-", HttpStatus.UNAUTHORIZED.value(), reading);
            return;
        }
        if (!reading && token.get().scope() != ApiTokens.Scope.ADMIN) {
            Problem.of(
                            HttpStatus.FORBIDDEN.value(),
                            "admin scope required",
                            "token '" + token.get().name() + "' has the read scope; " + request.getMethod()
                                    + " needs admin")
                    .write(request, response);
            audit(request, token.get().name(), HttpStatus.FORBIDDEN.value(), false);
            return;
        }
        try {
            chain.doFilter(request, response);
        } finally {
            audit(request, token.get().name(), response.getStatus(), reading);
        }
    }

    private static void audit(HttpServletRequest request, String tokenName, int status, boolean reading) {
        if (!reading || status == HttpStatus.UNAUTHORIZED.value()) {
            AUDIT.info(
                    "token={} method={} path={} status={} remote={}",
                    tokenName,
                    request.getMethod(),
                    request.getRequestURI(),
                    status,
                    request.getRemoteAddr());
        }
    }
}
