package dev.onionrelay.relay;

import java.util.Locale;

/**
 * How a relay passes on the client's end of its direction (TCP FIN, or close_notify at the minimum depth) to the
 * target.
 */
public enum HalfClose {
    /**
     * At once: close_notify on every egress layer, innermost first, then FIN, while the response may still flow back.
     * Right for peers that keep sending after a TLS half-close (TLS 1.3 peers such as Python's ssl or another relay)
     * and for protocols where the end of the request is the signal to answer.
     */
    PROPAGATE,
    /**
     * Held until the target has ended its direction and that end has reached the client, or until the relay's
     * {@code halfCloseTimeout} passes. Right for peers that drop the unread rest of their response once the client's
     * side closes (stunnel servers, Node servers with {@code allowHalfOpen: false}) when the request carries its own
     * end (HTTP, most request/response protocols).
     */
    HOLD;

    public String label() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** The mode named {@code propagate} or {@code hold} (any case); null for any other name. */
    public static HalfClose named(String name) {
        for (HalfClose mode : values()) {
            if (mode.label().equalsIgnoreCase(name.trim())) {
                return mode;
            }
        }
        return null;
    }
}
