package dev.onionrelay.relay;

import dev.onionrelay.layer.LayerStack;
import dev.onionrelay.layer.LayerStatus;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.time.Instant;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * A snapshot of one tunnel for the API. {@code revision} is the revision of its relay's definition the tunnel runs
 * (the one it was accepted under), {@code requested} the destination a proxy-mode client asked for (null for fixed
 * targets and before the request is read), {@code connected} where the tunnel connected (null before).
 */
public record TunnelStatus(
        String id,
        String relay,
        long revision,
        String client,
        Instant openedAt,
        TunnelState state,
        long bytesIn,
        long bytesOut,
        StackStatus ingress,
        StackStatus egress,
        @Nullable String requested,
        @Nullable Connected connected) {

    /**
     * Where a tunnel connected.
     *
     * @param index the position in the relay's {@code targets} (fixed targets), null in the proxy modes
     * @param target the target as configured or requested ({@code host:port})
     * @param address the address connected to, after the policy check ({@code ip:port})
     */
    public record Connected(@Nullable Integer index, String target, String address) {}

    /** One side's live stack. */
    public record StackStatus(int depth, int minDepth, List<LayerStatus> layers) {

        /** The status of {@code stack}; of an empty stack with {@code minDepth} when there is none yet. */
        static StackStatus of(@Nullable LayerStack stack, int minDepth) {
            return stack != null
                    ? new StackStatus(stack.depth(), stack.minDepth(), stack.status())
                    : new StackStatus(0, minDepth, List.of());
        }
    }

    /** A peer's address as status and audit show it: {@code ip:port}, an IPv6 address in brackets. */
    static String address(SocketAddress address) {
        if (address instanceof InetSocketAddress inet) {
            String host = inet.getAddress() != null ? inet.getAddress().getHostAddress() : inet.getHostString();
            return (host.contains(":") ? "[" + host + "]" : host) + ":" + inet.getPort();
        }
        return String.valueOf(address);
    }
}
