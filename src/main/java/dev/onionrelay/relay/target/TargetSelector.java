package dev.onionrelay.relay.target;

import dev.onionrelay.relay.Endpoint;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.Future;
import java.net.InetSocketAddress;

/**
 * Where a tunnel connects, asked once per tunnel after its ingress handshakes succeeded. Today every relay has a fixed
 * target ({@link FixedTargetSelector}); a selector that reads the target from the tunnel's first bytes (CONNECT,
 * SOCKS) plugs in here. Implementations must not block the calling event loop.
 */
public interface TargetSelector {

    /**
     * @param target the relay's configured target
     * @param executor the tunnel's event loop; the future completes on it
     * @return the address to connect to, or a failure with {@link TargetRefusedException} naming why
     */
    Future<InetSocketAddress> select(Endpoint target, EventExecutor executor);
}
