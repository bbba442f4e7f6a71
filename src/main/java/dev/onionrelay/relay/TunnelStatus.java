package dev.onionrelay.relay;

import dev.onionrelay.layer.LayerStatus;
import java.time.Instant;
import java.util.List;

/** A snapshot of one tunnel for the API. */
public record TunnelStatus(
        String id,
        String relay,
        String client,
        Instant openedAt,
        TunnelState state,
        long bytesIn,
        long bytesOut,
        StackStatus ingress,
        StackStatus egress) {

    /** One side's live stack. */
    public record StackStatus(int depth, int minDepth, List<LayerStatus> layers) {}
}
