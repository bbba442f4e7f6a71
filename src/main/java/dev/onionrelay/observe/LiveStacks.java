package dev.onionrelay.observe;

import dev.onionrelay.layer.LayerStack;
import dev.onionrelay.layer.Side;
import dev.onionrelay.layer.TlsProvider;
import dev.onionrelay.relay.Relay;
import dev.onionrelay.relay.Tunnel;
import org.jspecify.annotations.Nullable;

/**
 * The live layers of one relay's open tunnels, per side, gathered in one pass: how many tunnels, the shallowest and
 * deepest live stack, and the layers summed over all tunnels. A tunnel whose target is not connected yet has no egress
 * stack and counts as depth 0 on that side.
 *
 * @param tunnels open tunnels seen
 */
record LiveStacks(int tunnels, Depths ingress, Depths egress) {

    /**
     * One side's live depths over the open tunnels.
     *
     * @param min the shallowest stack, 0 when there is no tunnel
     * @param max the deepest stack, 0 when there is no tunnel
     * @param layers live layers summed over the tunnels
     * @param openSslLayers those of them that run on OpenSSL (the others run on the JDK engine)
     */
    record Depths(int min, int max, long layers, long openSslLayers) {}

    Depths side(Side side) {
        return side == Side.INGRESS ? ingress : egress;
    }

    static LiveStacks of(Relay relay) {
        int tunnels = 0;
        int ingressMin = Integer.MAX_VALUE;
        int ingressMax = 0;
        long ingressLayers = 0;
        long ingressOpenSsl = 0;
        int egressMin = Integer.MAX_VALUE;
        int egressMax = 0;
        long egressLayers = 0;
        long egressOpenSsl = 0;
        for (Tunnel tunnel : relay.tunnels()) {
            int ingress = depth(tunnel.stack(Side.INGRESS));
            int egress = depth(tunnel.stack(Side.EGRESS));
            tunnels++;
            ingressMin = Math.min(ingressMin, ingress);
            ingressMax = Math.max(ingressMax, ingress);
            ingressLayers += ingress;
            ingressOpenSsl += openSsl(tunnel.stack(Side.INGRESS));
            egressMin = Math.min(egressMin, egress);
            egressMax = Math.max(egressMax, egress);
            egressLayers += egress;
            egressOpenSsl += openSsl(tunnel.stack(Side.EGRESS));
        }
        if (tunnels == 0) {
            return new LiveStacks(0, new Depths(0, 0, 0, 0), new Depths(0, 0, 0, 0));
        }
        return new LiveStacks(
                tunnels,
                new Depths(ingressMin, ingressMax, ingressLayers, ingressOpenSsl),
                new Depths(egressMin, egressMax, egressLayers, egressOpenSsl));
    }

    private static int openSsl(@Nullable LayerStack stack) {
        return stack == null ? 0 : stack.depthOn(TlsProvider.OPENSSL);
    }

    private static int depth(@Nullable LayerStack stack) {
        return stack == null ? 0 : stack.depth();
    }
}
