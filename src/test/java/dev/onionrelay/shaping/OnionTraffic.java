package dev.onionrelay.shaping;

import static org.awaitility.Awaitility.await;

import dev.onionrelay.layer.LayerSpec;
import dev.onionrelay.layer.Side;
import dev.onionrelay.relay.Relay;
import dev.onionrelay.relay.Tunnel;
import dev.onionrelay.support.Layers;
import dev.onionrelay.support.Onions;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.Socket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;

/**
 * Depth-2 onion tunnels through an observation point, the positive class of the detector:
 *
 * <pre>
 * client -> entry [egress L0, L1] -> tap -> exit [ingress L0, L1] -> HTTP target (plaintext)
 * </pre>
 *
 * Each tunnel carries the same requests as the ordinary HTTPS connections ({@link HttpRequests}). A new entry relay
 * every third tunnel makes one handshake in three fresh and the others resumed (an entry keeps its sessions per peer),
 * as in issue 27's measurement. {@code outerLayer} rewrites the L0 spec at both ends: the one place a shaping option
 * (such as {@code padding: "on"}) goes.
 */
final class OnionTraffic implements AutoCloseable {

    /** What happens on the live tunnel between its two requests. */
    enum LiveEvent {
        /** A third layer pushed at both ends (startTLS inside the two layers). */
        PUSH,
        /** The inner layer popped by the entry, the exit answering (stopTLS). */
        POP
    }

    static final int TUNNELS_PER_ENTRY = 3;

    private final Onions onions = new Onions();
    private final UnaryOperator<LayerSpec> outerLayer;
    private final int depth;
    private final Relay exit;
    private int tapPort;

    OnionTraffic(int targetPort, UnaryOperator<LayerSpec> outerLayer) throws Exception {
        this(targetPort, outerLayer, 2);
    }

    /** Tunnels of {@code depth} 2 (L0, L1), or 1 (L0 only: no inner handshake, no live event). */
    OnionTraffic(int targetPort, UnaryOperator<LayerSpec> outerLayer, int depth) throws Exception {
        this.outerLayer = outerLayer;
        this.depth = depth;
        onions.pki.ca("ca");
        onions.pki.leaf("hop", "ca");
        List<LayerSpec> layers = new ArrayList<>(List.of(outerLayer.apply(Layers.server("L0", "hop"))));
        if (depth == 2) {
            layers.add(Layers.server("L1", "hop"));
        }
        // Minimum depth 1, so that the inner layer can be popped; the wire is the same as at minimum depth 2.
        exit = onions.relay("exit", targetPort, layers, List.of(), Onions.options(1, 0));
    }

    /** The exit's port: where the tap must forward. */
    int exitPort() {
        return Onions.port(exit);
    }

    /** Entries connect to the tap from now on. */
    void through(int tapPort) {
        this.tapPort = tapPort;
    }

    private Relay newEntry() throws Exception {
        return onions.relay(
                "entry",
                tapPort,
                List.of(),
                depth == 2
                        ? List.of(outerLayer.apply(tls13Client("L0")), tls13Client("L1"))
                        : List.of(outerLayer.apply(tls13Client("L0"))),
                Onions.options(0, 1));
    }

    private static LayerSpec tls13Client(String name) {
        return Layers.withProtocols(Layers.client(name, "ca", "localhost"), List.of("TLSv1.3"));
    }

    /** Opens {@code count} tunnels, {@code parallel} at a time, each with one request and its answer. */
    void newTunnels(int count, int parallel, Random random) throws Exception {
        List<List<HttpRequests.Size>> sizes = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            sizes.add(HttpRequests.draw(random, 1));
        }
        ExecutorService workers = Executors.newFixedThreadPool(parallel);
        try {
            List<Future<?>> groups = new ArrayList<>();
            for (int first = 0; first < count; first += TUNNELS_PER_ENTRY) {
                List<List<HttpRequests.Size>> group = sizes.subList(first, Math.min(count, first + TUNNELS_PER_ENTRY));
                groups.add(workers.submit(() -> {
                    Relay entry = newEntry();
                    for (List<HttpRequests.Size> requests : group) {
                        try (Socket client = connect(entry)) {
                            exchange(client, requests.get(0), true);
                        }
                    }
                    return null;
                }));
            }
            for (Future<?> group : groups) {
                group.get(120, TimeUnit.SECONDS);
            }
        } finally {
            workers.shutdownNow();
        }
    }

    /**
     * Opens {@code count} tunnels one after the other, each with a request, then {@code event} on the live tunnel, then
     * a second request: one at a time, so that the entry's and the exit's only tunnels are the two ends of it.
     */
    void liveTunnels(int count, LiveEvent event, Random random) throws Exception {
        Relay entry = null;
        for (int i = 0; i < count; i++) {
            if (i % TUNNELS_PER_ENTRY == 0) {
                if (entry != null) {
                    entry.stop();
                }
                entry = newEntry();
            }
            List<HttpRequests.Size> requests = HttpRequests.draw(random, 2);
            try (Socket client = connect(entry)) {
                exchange(client, requests.get(0), false);
                Tunnel front = entry.tunnels().get(0);
                Tunnel back = exit.tunnels().get(0);
                if (event == LiveEvent.PUSH) {
                    push(front, back);
                } else {
                    pop(front, back);
                }
                exchange(client, requests.get(1), true);
            }
            Relay last = entry;
            await().atMost(Duration.ofSeconds(10))
                    .pollInterval(Duration.ofMillis(5))
                    .until(() -> last.tunnels().isEmpty() && exit.tunnels().isEmpty());
        }
    }

    private void push(Tunnel front, Tunnel back) throws Exception {
        // The server end first, so that it waits for the ClientHello the client end sends as soon as it is pushed.
        back.push(Side.INGRESS, onions.preparePush(Layers.server("L2", "hop"), 2, 1))
                .get(10, TimeUnit.SECONDS);
        front.push(Side.EGRESS, onions.preparePush(tls13Client("L2"), 2, 1)).get(10, TimeUnit.SECONDS);
        await().atMost(Duration.ofSeconds(10))
                .pollInterval(Duration.ofMillis(5))
                .until(() -> front.stack(Side.EGRESS).established()
                        && back.stack(Side.INGRESS).established());
    }

    private static void pop(Tunnel front, Tunnel back) throws Exception {
        front.popLocal(Side.EGRESS).get(10, TimeUnit.SECONDS);
        await().atMost(Duration.ofSeconds(10))
                .pollInterval(Duration.ofMillis(5))
                .until(() -> front.stack(Side.EGRESS).depth() == 1
                        && back.stack(Side.INGRESS).depth() == 1);
    }

    private static Socket connect(Relay entry) throws IOException {
        Socket client = new Socket(InetAddress.getLoopbackAddress(), Onions.port(entry));
        client.setSoTimeout(30_000);
        return client;
    }

    private static void exchange(Socket client, HttpRequests.Size size, boolean last) throws IOException {
        OutputStream out = client.getOutputStream();
        out.write(HttpRequests.request(size, last));
        out.flush();
        InputStream in = client.getInputStream();
        HttpRequests.readResponse(in);
    }

    @Override
    public void close() {
        onions.close();
    }
}
