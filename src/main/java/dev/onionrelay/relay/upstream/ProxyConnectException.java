package dev.onionrelay.relay.upstream;

/**
 * An HTTP proxy on the way to the target did not grant the CONNECT; {@link #reason()} is the short label the
 * connect-failure metric counts it under.
 */
public final class ProxyConnectException extends Exception {

    /** The proxy answered with a status other than 2xx (403 by policy, 502 when it could not reach the target…). */
    public static final String REFUSED = "proxy_refused";

    /** No complete answer within the connect timeout. */
    public static final String TIMEOUT = "proxy_timeout";

    /** The answer is not an HTTP status line and headers, or its header block is too large. */
    public static final String BAD_ANSWER = "proxy_bad_answer";

    /** The proxy closed the connection before it answered. */
    public static final String CLOSED = "proxy_closed";

    private final String reason;

    public ProxyConnectException(String reason, String message) {
        super(message, null, false, false);
        this.reason = reason;
    }

    public String reason() {
        return reason;
    }
}
