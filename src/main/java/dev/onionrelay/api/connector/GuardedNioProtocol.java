package dev.onionrelay.api.connector;

import org.apache.coyote.http11.Http11NioProtocol;

/**
 * HTTP/1.1 over NIO on a {@link GuardedNioEndpoint}. Named by class in {@code TomcatServletWebServerFactory
 * #setProtocol}, which is why it has a constructor without arguments; everything else is Tomcat's.
 */
public class GuardedNioProtocol extends Http11NioProtocol {

    private final GuardedNioEndpoint endpoint;

    public GuardedNioProtocol() {
        this(new GuardedNioEndpoint());
    }

    private GuardedNioProtocol(GuardedNioEndpoint endpoint) {
        super(endpoint);
        this.endpoint = endpoint;
    }

    /** The endpoint, for its guards' settings and counts. */
    public GuardedNioEndpoint guard() {
        return endpoint;
    }
}
