package dev.onionrelay.relay;

import dev.onionrelay.layer.LayerStack;
import dev.onionrelay.layer.LayerStatus;
import dev.onionrelay.layer.Side;
import org.jspecify.annotations.Nullable;

/**
 * What a push on a live tunnel must satisfy at the moment it is applied. Checked on the tunnel's event loop right
 * before the layer goes on the stack ({@link Tunnel#push(Side, dev.onionrelay.layer.PreparedLayer, PushRules)}), so
 * that two pushes asked at the same moment are judged one after the other against the stack as it is: they can never
 * both pass the maximum depth or both take a name. The registry checks the same rules earlier for a quick answer; this
 * is the check that counts.
 *
 * @param maxDepth most layers one side may have ({@code onion.limits.max-depth})
 * @param preparedDepth the depth the layer was prepared for (its position decides its TLS engine and defaults), or -1
 *     when any depth will do
 */
public record PushRules(int maxDepth, int preparedDepth) {

    /** No limit beyond the tunnel being open and no pop pending: for callers that checked nothing else. */
    public static final PushRules NONE = new PushRules(Integer.MAX_VALUE, -1);

    /** The refusal of pushing a layer named {@code name} on {@code stack} now, or null when it may go on. */
    @Nullable
    RelayException refusal(String tunnel, LayerStack stack, String name) {
        Side side = stack.side();
        String popping = stack.pendingPop();
        if (popping != null) {
            // The new layer would go inside the closing one, and the peer's close_notify answer, which is legitimate,
            // would then arrive under an open inner layer: a protocol violation that closes the tunnel.
            return new RelayException(
                    RelayException.Kind.CONFLICT,
                    null,
                    "a pop of the " + side.label() + " layer '" + popping + "' on tunnel " + tunnel
                            + " waits for the peer's close_notify answer; push again once it is done");
        }
        int depth = stack.depth();
        if (depth + 1 > maxDepth) {
            return new RelayException(
                    RelayException.Kind.LIMIT,
                    null,
                    "at most " + maxDepth + " layers per side (onion.limits.max-depth)");
        }
        for (LayerStatus layer : stack.status()) {
            if (layer.name().equals(name)) {
                return new RelayException(
                        RelayException.Kind.INVALID,
                        "name",
                        "a live " + side.label() + " layer is named '" + name
                                + "' already; names label status and metrics, so they must differ");
            }
        }
        if (preparedDepth >= 0 && depth != preparedDepth) {
            return new RelayException(
                    RelayException.Kind.CONFLICT,
                    null,
                    "the " + side.label() + " stack of tunnel " + tunnel + " changed while the layer was prepared"
                            + " (another push or a pop); push again");
        }
        return null;
    }
}
