package dev.onionrelay.registry;

/**
 * Service-wide limits on relays.
 *
 * @param maxRelays relays that may exist at once
 * @param maxDepth layers per side, static or pushed
 * @param maxTunnelsPerRelay the highest {@code options.maxTunnels} a relay may ask for
 */
public record RelayLimits(int maxRelays, int maxDepth, int maxTunnelsPerRelay) {
    public static final RelayLimits DEFAULTS = new RelayLimits(64, 8, 10_000);
}
