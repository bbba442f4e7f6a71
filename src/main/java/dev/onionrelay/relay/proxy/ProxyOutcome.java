package dev.onionrelay.relay.proxy;

/** How one proxy request ended; {@link #label()} is the metric and audit value. */
public enum ProxyOutcome {
    /** Connected: the tunnel splices. */
    GRANTED("granted"),
    /** Policy does not allow the destination (HTTP 403, SOCKS "not allowed by ruleset"). */
    DENIED("denied"),
    /** The destination refused the connection (HTTP 502, SOCKS "connection refused"). */
    REFUSED("unreachable"),
    /** The destination does not resolve or cannot be reached (HTTP 502, SOCKS "host unreachable"). */
    UNREACHABLE("unreachable"),
    /** The connect timed out (HTTP 504, SOCKS "TTL expired"). */
    TIMEOUT("timeout"),
    /** The request itself was malformed, too large, unsupported or not finished in time. */
    BAD_REQUEST("bad_request");

    private final String label;

    ProxyOutcome(String label) {
        this.label = label;
    }

    public String label() {
        return label;
    }

    /** The outcome of a failed connect, from the engine's connect failure reason. */
    public static ProxyOutcome ofConnectFailure(String reason) {
        return switch (reason) {
            case "policy" -> DENIED;
            case "refused" -> REFUSED;
            case "timeout" -> TIMEOUT;
            default -> UNREACHABLE;
        };
    }
}
