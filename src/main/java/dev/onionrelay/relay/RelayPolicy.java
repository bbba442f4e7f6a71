package dev.onionrelay.relay;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.List;
import java.util.Locale;

/**
 * What relays may do: where they may listen, which targets they may reach, whether a layer may skip verification.
 * Entries are host names ({@code *.example.com} wildcards allowed), IP addresses, CIDR blocks, {@code loopback}
 * (any loopback address or {@code localhost}) or {@code *}. The default allows loopback only.
 *
 * <p>Target names are checked as written here; the check against resolved addresses at connect time belongs to the
 * connect path.
 */
public record RelayPolicy(List<String> listenHosts, List<String> targetHosts, boolean allowInsecureVerify) {

    public static final RelayPolicy LOOPBACK_ONLY = new RelayPolicy(List.of("loopback"), List.of("loopback"), false);

    public RelayPolicy {
        listenHosts = List.copyOf(listenHosts);
        targetHosts = List.copyOf(targetHosts);
    }

    public boolean allowsListen(String host) {
        return matchesAny(listenHosts, host);
    }

    public boolean allowsTarget(String host) {
        return matchesAny(targetHosts, host);
    }

    private static boolean matchesAny(List<String> patterns, String host) {
        for (String pattern : patterns) {
            if (matches(pattern.trim(), host.trim())) {
                return true;
            }
        }
        return false;
    }

    static boolean matches(String pattern, String host) {
        String p = pattern.toLowerCase(Locale.ROOT);
        String h = host.toLowerCase(Locale.ROOT);
        if (p.equals("*")) {
            return true;
        }
        if (p.equals("loopback")) {
            return h.equals("localhost") || isLoopbackLiteral(h);
        }
        if (p.startsWith("*.")) {
            return h.endsWith(p.substring(1)) && h.length() > p.length() - 1;
        }
        if (p.contains("/")) {
            return inCidr(p, h);
        }
        return p.equals(h);
    }

    private static boolean isLoopbackLiteral(String host) {
        InetAddress address = literal(host);
        return address != null && address.isLoopbackAddress();
    }

    /** Parses an IP literal without any DNS lookup; null for host names. */
    static InetAddress literal(String host) {
        String h = host.startsWith("[") && host.endsWith("]") ? host.substring(1, host.length() - 1) : host;
        boolean ipv4 = h.matches("\\d{1,3}(\\.\\d{1,3}){3}");
        boolean ipv6 = h.contains(":") && h.matches("[0-9a-fA-F:.%]+");
        if (!ipv4 && !ipv6) {
            return null;
        }
        try {
            return InetAddress.getByName(h);
        } catch (UnknownHostException e) {
            return null;
        }
    }

    private static boolean inCidr(String cidr, String host) {
        int slash = cidr.indexOf('/');
        InetAddress network = literal(cidr.substring(0, slash));
        InetAddress address = literal(host);
        if (network == null || address == null) {
            return false;
        }
        byte[] n = network.getAddress();
        byte[] a = address.getAddress();
        if (n.length != a.length) {
            return false;
        }
        int bits = Integer.parseInt(cidr.substring(slash + 1));
        for (int i = 0; i < n.length && bits > 0; i++, bits -= 8) {
            int mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
            if ((n[i] & mask) != (a[i] & mask)) {
                return false;
            }
        }
        return true;
    }
}
