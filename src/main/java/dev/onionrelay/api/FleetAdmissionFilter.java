package dev.onionrelay.api;

import dev.onionrelay.store.postgres.FleetAdmission;
import jakarta.servlet.FilterChain;
import jakarta.servlet.ServletException;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.util.function.Supplier;
import org.springframework.http.HttpHeaders;
import org.springframework.http.HttpMethod;
import org.springframework.http.HttpStatus;
import org.springframework.web.filter.OncePerRequestFilter;

/**
 * An instance of a fleet that is not admitted yet (its encryption key and API tokens not checked against the store,
 * or found not to be the fleet's) refuses every write with 503 naming why: a change it made could be sealed under the
 * wrong key or apply to the whole fleet on its say alone. Reads answer from its snapshot, marked stale by
 * {@link StoreStalenessFilter}.
 */
public final class FleetAdmissionFilter extends OncePerRequestFilter {

    private final Supplier<FleetAdmission> admission;

    public FleetAdmissionFilter(Supplier<FleetAdmission> admission) {
        this.admission = admission;
    }

    @Override
    protected boolean shouldNotFilter(HttpServletRequest request) {
        String method = request.getMethod();
        return HttpMethod.GET.matches(method) || HttpMethod.HEAD.matches(method) || HttpMethod.OPTIONS.matches(method);
    }

    @Override
    protected void doFilterInternal(HttpServletRequest request, HttpServletResponse response, FilterChain chain)
            throws ServletException, IOException {
        FleetAdmission now = admission.get();
        if (now.admitted()) {
            chain.doFilter(request, response);
            return;
        }
        response.setHeader(HttpHeaders.RETRY_AFTER, "5");
        Problem.of(
                        HttpStatus.SERVICE_UNAVAILABLE.value(),
                        ProblemTypes.STORE_UNAVAILABLE,
                        now.reason() + "; nothing" + " was changed")
                .write(request, response);
    }
}
