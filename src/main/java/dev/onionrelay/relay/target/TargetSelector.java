package dev.onionrelay.relay.target;

import dev.onionrelay.relay.Endpoint;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.Future;
import java.net.InetSocketAddress;

/**
 * Where a tunnel connects, asked after its ingress handshakes succeeded: for each configured target the tunnel tries
 * ({@link #select}), or for the destination a proxy-mode client named ({@link #selectRequested}). Implementations must
 * not block the calling event loop.
 */
public interface TargetSelector {

    /**
     * @param target the relay's configured target
     * @param executor the tunnel's event loop; the future completes on it
     * @return the address to connect to, or a failure with {@link TargetRefusedException} naming why
     */
    Future<InetSocketAddress> select(Endpoint target, EventExecutor executor);

    /**
     * A destination a client asked for (CONNECT or SOCKS5 modes): nothing about it was checked when the relay was
     * created, so host, port and every resolved address are checked here. Without a policy it is {@link #select}.
     *
     * @return the address to connect to, or a failure with {@link TargetRefusedException} ({@code policy} when the
     *     destination is not allowed)
     */
    default Future<InetSocketAddress> selectRequested(Endpoint requested, EventExecutor executor) {
        return select(requested, executor);
    }
}
