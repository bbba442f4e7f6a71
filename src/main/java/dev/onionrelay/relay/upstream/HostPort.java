package dev.onionrelay.relay.upstream;

import dev.onionrelay.relay.Endpoint;

/** Parses the {@code host:port} of a CONNECT request: a name, an IPv4 address or a bracketed IPv6 address. */
public final class HostPort {

    private HostPort() {}

    /**
     * @throws IllegalArgumentException with a message fit for the API when {@code value} is not {@code host:port}
     */
    public static Endpoint parse(String value) {
        String text = value.trim();
        int colon = text.lastIndexOf(':');
        if (colon <= 0 || colon == text.length() - 1) {
            throw new IllegalArgumentException("'" + value + "' is not host:port (an IPv6 address goes in brackets)");
        }
        String host = text.substring(0, colon);
        String port = text.substring(colon + 1);
        if (host.startsWith("[") != host.endsWith("]") || (!host.startsWith("[") && host.contains(":"))) {
            throw new IllegalArgumentException("'" + value + "' is not host:port (an IPv6 address goes in brackets)");
        }
        if (host.startsWith("[")) {
            host = host.substring(1, host.length() - 1);
        }
        if (host.isEmpty() || !port.chars().allMatch(c -> c >= '0' && c <= '9') || port.length() > 5) {
            throw new IllegalArgumentException("'" + value + "' is not host:port with a port between 1 and 65535");
        }
        int number = Integer.parseInt(port);
        if (number < 1 || number > 65535) {
            throw new IllegalArgumentException("'" + value + "' is not host:port with a port between 1 and 65535");
        }
        return new Endpoint(host, number);
    }
}
