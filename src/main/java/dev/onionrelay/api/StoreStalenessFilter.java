package dev.onionrelay.api;

import dev.onionrelay.store.postgres.FleetSync;
import jakarta.servlet.FilterChain;
import jakarta.servlet.ServletException;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.util.function.Supplier;
import org.jspecify.annotations.Nullable;
import org.springframework.web.filter.OncePerRequestFilter;

/**
 * While the shared store cannot be reached, every API answer says that what it shows may be stale: the header
 * {@value #HEADER} carries the time of the last successful read of the store ({@code never} if there was none). Reads
 * answer from the last known state; writes answer 503.
 */
public final class StoreStalenessFilter extends OncePerRequestFilter {

    public static final String HEADER = "Onion-Store-Stale";

    private final Supplier<FleetSync.@Nullable Status> status;

    public StoreStalenessFilter(Supplier<FleetSync.@Nullable Status> status) {
        this.status = status;
    }

    @Override
    protected void doFilterInternal(HttpServletRequest request, HttpServletResponse response, FilterChain chain)
            throws ServletException, IOException {
        FleetSync.Status now = status.get();
        if (now != null && !now.up()) {
            response.setHeader(
                    HEADER, now.lastSync() == null ? "never" : now.lastSync().toString());
        }
        chain.doFilter(request, response);
    }
}
