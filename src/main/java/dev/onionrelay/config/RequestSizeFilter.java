package dev.onionrelay.config;

import jakarta.servlet.FilterChain;
import jakarta.servlet.ServletException;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import org.springframework.http.HttpStatus;
import org.springframework.web.filter.OncePerRequestFilter;

/**
 * Refuses request bodies larger than {@code onion.limits.max-request-size} with 413 before anything reads them.
 * Chunked bodies without a length are capped by the same limit while they are read.
 */
public final class RequestSizeFilter extends OncePerRequestFilter {

    private final long maxBytes;

    public RequestSizeFilter(long maxBytes) {
        this.maxBytes = maxBytes;
    }

    @Override
    protected void doFilterInternal(HttpServletRequest request, HttpServletResponse response, FilterChain chain)
            throws ServletException, IOException {
        long length = request.getContentLengthLong();
        if (length > maxBytes) {
            Problems.write(
                    response,
                    HttpStatus.CONTENT_TOO_LARGE,
                    "request body too large",
                    "the body has " + length + " bytes; at most " + maxBytes
                            + " are accepted (onion.limits.max-request-size)");
            return;
        }
        chain.doFilter(request, response);
    }
}
