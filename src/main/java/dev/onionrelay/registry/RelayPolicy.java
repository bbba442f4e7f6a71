package dev.onionrelay.registry;

import dev.onionrelay.relay.target.FixedTargetSelector;
import java.net.InetAddress;
import java.util.List;
import java.util.Locale;
import java.util.Optional;

/**
 * What relays may do: where they may listen, which targets they may reach, whether a layer may skip verification.
 *
 * <p>Host entries are host names ({@code *.example.com} wildcards allowed), IP addresses, CIDR blocks,
 * {@code loopback} (any loopback address, and the name {@code localhost}) or {@code *}. Port entries are ports or
 * ranges ({@code 7000-7999}). The default allows loopback only.
 *
 * <p>Some addresses are never reached unless an address or CIDR entry names them explicitly ({@code *} does not):
 * {@link #deniedTargets()}, by default link-local (which holds the cloud metadata service), the other known metadata
 * addresses, unspecified and multicast addresses. A target given by name is checked twice: the name when the relay is
 * created, and every address it resolves to when a client connects, where the tunnel then connects to the address
 * that was checked (no second lookup that DNS rebinding could change). A resolved loopback address needs
 * {@code loopback} or an explicit entry, so that a public name cannot be pointed at this machine's own services.
 */
public record RelayPolicy(
        List<String> listenHosts,
        List<String> listenPorts,
        List<String> targetHosts,
        List<String> targetPorts,
        List<String> deniedTargets,
        boolean allowInsecureVerify) {

    /** Addresses no relay reaches unless explicitly listed. */
    public static final List<String> DEFAULT_DENIED_TARGETS = List.of(
            "169.254.0.0/16",
            "fe80::/10",
            "100.100.100.200/32",
            "fd00:ec2::254/128",
            "0.0.0.0/8",
            "::/128",
            "224.0.0.0/4",
            "ff00::/8",
            "255.255.255.255/32");

    public RelayPolicy {
        listenHosts = List.copyOf(listenHosts);
        listenPorts = List.copyOf(listenPorts);
        targetHosts = List.copyOf(targetHosts);
        targetPorts = List.copyOf(targetPorts);
        deniedTargets = List.copyOf(deniedTargets);
    }

    /** Whether a relay may listen on {@code host:port} ({@code 0.0.0.0} and {@code ::} need {@code *}). */
    public boolean allowsListen(String host, int port) {
        if (!portIn(listenPorts, port)) {
            return false;
        }
        InetAddress address = literal(host);
        if (address != null && address.isAnyLocalAddress()) {
            return listenHosts.stream().anyMatch(p -> p.trim().equals("*"));
        }
        return listenHosts.stream().anyMatch(p -> matches(p.trim(), host.trim()));
    }

    public boolean allowsTargetPort(int port) {
        return portIn(targetPorts, port);
    }

    /** The check when a relay is created: an address is checked fully, a name against the name entries. */
    public boolean allowsTargetHost(String host) {
        InetAddress address = literal(host);
        if (address != null) {
            return allowsAddress(address);
        }
        return targetHosts.stream().anyMatch(p -> matches(p.trim(), host.trim()));
    }

    /**
     * The check for a destination a proxy-mode client asked for, before any lookup: the port is in the pool, and the
     * host is allowed as a relay's target would be (an address fully, a name against the name entries; the addresses
     * a name resolves to are checked by {@link #chooseResolved} when the tunnel connects).
     */
    public boolean allowsDestination(String host, int port) {
        return allowsTargetPort(port) && allowsTargetHost(host);
    }

    /** The check when a tunnel connects: the first resolved address this policy allows, if any. */
    public Optional<InetAddress> chooseResolved(List<InetAddress> candidates) {
        return candidates.stream().filter(this::allowsAddress).findFirst();
    }

    /** Whether a concrete address may be a target: listed, and not denied unless listed explicitly. */
    public boolean allowsAddress(InetAddress address) {
        boolean explicit = targetHosts.stream().anyMatch(p -> explicitlyNames(p.trim(), address));
        if (!explicit && deniedTargets.stream().anyMatch(d -> inCidr(d.trim(), address))) {
            return false;
        }
        if (address.isLoopbackAddress()) {
            return explicit || targetHosts.stream().anyMatch(p -> p.trim().equalsIgnoreCase("loopback"));
        }
        return explicit || targetHosts.stream().anyMatch(p -> p.trim().equals("*"));
    }

    private static boolean explicitlyNames(String pattern, InetAddress address) {
        if (pattern.contains("/")) {
            return inCidr(pattern, address);
        }
        InetAddress listed = literal(pattern);
        return listed != null && listed.equals(address);
    }

    static boolean matches(String pattern, String host) {
        String p = pattern.toLowerCase(Locale.ROOT);
        String h = host.toLowerCase(Locale.ROOT);
        if (p.equals("*")) {
            return true;
        }
        if (p.equals("loopback")) {
            InetAddress address = literal(h);
            return h.equals("localhost") || (address != null && address.isLoopbackAddress());
        }
        if (p.startsWith("*.")) {
            return h.endsWith(p.substring(1)) && h.length() > p.length() - 1;
        }
        if (p.contains("/")) {
            InetAddress address = literal(h);
            return address != null && inCidr(p, address);
        }
        InetAddress listed = literal(p);
        InetAddress given = literal(h);
        return listed != null && given != null ? listed.equals(given) : p.equals(h);
    }

    static boolean portIn(List<String> ranges, int port) {
        for (String range : ranges) {
            String r = range.trim();
            int dash = r.indexOf('-');
            try {
                if (dash < 0
                        ? Integer.parseInt(r) == port
                        : port >= Integer.parseInt(r.substring(0, dash).trim())
                                && port
                                        <= Integer.parseInt(
                                                r.substring(dash + 1).trim())) {
                    return true;
                }
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("not a port or port range: '" + range + "'", e);
            }
        }
        return false;
    }

    /** Parses an IP literal without any DNS lookup; null for host names. */
    public static InetAddress literal(String host) {
        return FixedTargetSelector.literal(host);
    }

    private static boolean inCidr(String cidr, InetAddress address) {
        int slash = cidr.indexOf('/');
        if (slash < 0) {
            InetAddress single = literal(cidr);
            return single != null && single.equals(address);
        }
        InetAddress network = literal(cidr.substring(0, slash));
        if (network == null) {
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
