package dev.onionrelay.support;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;

/**
 * A port a test names in a request ({@code "listen": {"port": …}}) and that must be free on several loopback addresses
 * at once, as when three fleet instances on 127.0.0.1-3 each open the same relay.
 *
 * <p>Taken below the kernel's ephemeral range on purpose: a port from {@code new ServerSocket(0)} comes from that range,
 * and between the check and the relay's bind any outgoing connection of the test (a hundred concurrent HTTP clients,
 * say) can be given it as its local port, and the bind then fails. Below the range only a listener can take it. The
 * same holds for a port handed to another process ({@code --server.port=…} of a service JVM, a PostgreSQL or Squid
 * port): in CI such a port from the ephemeral range was once taken before the process bound it ("Identify and stop the
 * process that's listening on port 34591"). A port is handed out once per test JVM, so two tests starting servers at
 * the same moment cannot be given the same one.
 */
public final class FixedPorts {

    private static final int LOWEST = 10_000;

    private static final Set<Integer> HANDED_OUT = ConcurrentHashMap.newKeySet();

    private FixedPorts() {}

    /** A port free on every address right now (a wildcard bind succeeds), outside the ephemeral range. */
    public static int free() throws IOException {
        return freeOnAll("0.0.0.0");
    }

    /** A port that is free on every one of {@code addresses} right now, and outside the ephemeral range. */
    public static int freeOnAll(String... addresses) throws IOException {
        int below = ephemeralLow();
        for (int tries = 0; tries < 1_000; tries++) {
            int port = ThreadLocalRandom.current().nextInt(LOWEST, below);
            if (freeOnEvery(port, addresses) && HANDED_OUT.add(port)) {
                return port;
            }
        }
        throw new IOException("no port free on all of " + String.join(", ", addresses) + " below " + below);
    }

    private static boolean freeOnEvery(int port, String... addresses) throws IOException {
        for (String address : addresses) {
            try (ServerSocket probe = new ServerSocket(port, 1, InetAddress.getByName(address))) {
                // free here
            } catch (IOException taken) {
                return false;
            }
        }
        return true;
    }

    /** The first port of the kernel's ephemeral range (32768 by default on Linux). */
    private static int ephemeralLow() {
        try {
            String range = Files.readString(Path.of("/proc/sys/net/ipv4/ip_local_port_range"))
                    .trim();
            int low = Integer.parseInt(range.split("\\s+")[0]);
            return low > LOWEST + 1_000 ? low : 32_768;
        } catch (IOException | RuntimeException unreadable) {
            return 32_768;
        }
    }
}
