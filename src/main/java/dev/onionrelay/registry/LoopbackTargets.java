package dev.onionrelay.registry;

import dev.onionrelay.relay.Endpoint;
import dev.onionrelay.relay.RelaySpec;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import org.jspecify.annotations.Nullable;

/**
 * Warns about a relay whose target names another relay of this instance at the usual loopback address
 * ({@code 127.0.0.1}, {@code ::1}, {@code localhost}) while the instance's relays listen on another address
 * ({@code onion.fleet.bind-address}). Chaining relays on one host usually means a target such as {@code 127.0.0.1:9001}
 * naming the next relay; with a bind address that relay listens on, say, {@code 127.0.0.3:9001}, so the target misses
 * it (or reaches something else). Only targets on the port of an existing relay are judged, so a service of its own
 * on the loopback (an API, a backend) is not warned about, nor is another loopback address named on purpose (another
 * instance's bind address); the relay is created either way. Only address literals and {@code localhost} are judged;
 * nothing is resolved.
 */
public final class LoopbackTargets {

    private LoopbackTargets() {}

    /**
     * The warnings for a relay of {@code spec} on an instance whose relays listen on {@code bindHost} (null: their
     * own hosts) and on {@code relayPorts} (the listen ports of this instance's other relays).
     */
    public static List<String> warnings(RelaySpec spec, @Nullable String bindHost, Set<Integer> relayPorts) {
        if (bindHost == null || wildcard(bindHost) || spec.target().isProxy()) {
            return List.of();
        }
        List<String> warnings = new ArrayList<>();
        for (Endpoint target : spec.target().endpoints()) {
            if (relayPorts.contains(target.port()) && loopback(target.host()) && !sameHost(target.host(), bindHost)) {
                warnings.add("target " + target + " is on this host's loopback, but this instance's relays listen on "
                        + bindHost + " (onion.fleet.bind-address): the relay on port " + target.port()
                        + " is reached at " + new Endpoint(bindHost, target.port()) + ", not " + target);
            }
        }
        return List.copyOf(warnings);
    }

    /** The loopback as people usually name it; other 127.x addresses are chosen on purpose. */
    static boolean loopback(String host) {
        String lower = unbracketed(host).toLowerCase(Locale.ROOT);
        return lower.equals("localhost") || lower.equals("::1") || lower.equals("127.0.0.1");
    }

    /** A wildcard bind address listens on the loopback too. */
    private static boolean wildcard(String bindHost) {
        String host = unbracketed(bindHost);
        return host.equals("0.0.0.0") || host.equals("::") || host.equals("0:0:0:0:0:0:0:0");
    }

    private static boolean sameHost(String target, String bindHost) {
        String a = unbracketed(target).toLowerCase(Locale.ROOT);
        String b = unbracketed(bindHost).toLowerCase(Locale.ROOT);
        if (a.equals("localhost")) {
            return b.equals("127.0.0.1") || b.equals("::1") || b.equals("localhost");
        }
        return a.equals(b);
    }

    private static String unbracketed(String host) {
        return host.startsWith("[") && host.endsWith("]") ? host.substring(1, host.length() - 1) : host;
    }
}
