package dev.onionrelay.observe;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.onionrelay.support.ApiClient;
import dev.onionrelay.support.ApiClient.Response;
import dev.onionrelay.support.Exposition;
import dev.onionrelay.support.RunningService;
import dev.onionrelay.support.Scenario;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Supplier;
import org.awaitility.core.ConditionTimeoutException;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;

/**
 * What a scrape of {@code /actuator/prometheus} and a read of {@code /actuator/onion} cost with 1,000 open tunnels.
 * Prints the figures (docs/BENCHMARKS.md, "Actuator and metrics cost", records them) and asserts only that the set-up
 * is what it claims to be, never a time: a busy CI machine cannot make it flaky.
 *
 * <p>1,000 clients connect to {@code entry [egress: D layers] -> exit [ingress: D layers] -> hold}, a target that
 * accepts and stays silent: 1,000 open tunnels on each relay. D is {@code -Donion.bench.depth} (default 0, so that
 * the build stays fast: 1,000 depth-2 tunnels take 4,000 TLS handshakes, a minute on two busy cores). The cost of a
 * scrape or a read does not depend on D (a stack's depth is read in constant time), which the recorded depth-2 run
 * shows.
 *
 * <p>Two figures per endpoint: the wall time of a request over loopback HTTP, as a scraper sees it (includes
 * scheduling delays when the machine is busy), and the CPU time the service spends producing the body in-process
 * ({@code PrometheusMeterRegistry.scrape()}; {@code OnionEndpoint.onion()} serialized to JSON), which other load
 * barely affects. Each with and without the tunnels.
 */
@Scenario
class ActuatorCostTest {

    static final int TUNNELS = 1000;
    static final int BATCH = 100;
    static final int DEPTH = Integer.getInteger("onion.bench.depth", 0);
    static final int WARM_UP = 20;
    static final int MEASURED = 50;

    @Test
    void scrapeAndOnionReadWithAThousandOpenTunnelsArePrinted() throws Exception {
        List<Socket> clients = new ArrayList<>();
        try (RunningService service = RunningService.inTemporaryDirectory();
                SilentTarget hold = new SilentTarget()) {
            ApiClient api = service.api();
            ApiClient management = service.management();
            created(api.post("/credentials", Map.of("name", "ca", "generate", Map.of("ca", true, "commonName", "CA"))));
            created(api.post(
                    "/credentials",
                    Map.of(
                            "name",
                            "hop",
                            "generate",
                            Map.of(
                                    "issuer",
                                    "ca",
                                    "commonName",
                                    "localhost",
                                    "dnsNames",
                                    List.of("localhost"),
                                    "ipAddresses",
                                    List.of("127.0.0.1")))));
            List<Map<String, String>> serverLayers = new ArrayList<>();
            List<Map<String, String>> clientLayers = new ArrayList<>();
            for (int i = 0; i < DEPTH; i++) {
                serverLayers.add(Map.of("name", "layer" + i, "credential", "hop"));
                clientLayers.add(Map.of("name", "layer" + i, "trust", "ca", "serverName", "localhost"));
            }
            int exit = relay(api, "exit", hold.port(), serverLayers, List.of());
            int entry = relay(api, "entry", exit, List.of(), clientLayers);

            PrometheusMeterRegistry registry = service.context().getBean(PrometheusMeterRegistry.class);
            OnionEndpoint endpoint = service.context().getBean(OnionEndpoint.class);
            Supplier<String> scrape = registry::scrape;
            Supplier<String> read = () -> ApiClient.JSON.writeValueAsString(endpoint.onion());
            List<String> idle = List.of(
                    http(management, "/actuator/prometheus").toString(),
                    http(management, "/actuator/onion").toString(),
                    cpu("scrape()", scrape).toString(),
                    cpu("onion() as JSON", read).toString());

            long started = System.nanoTime();
            try {
                // In batches: a thousand simultaneous TLS handshakes on two cores would run into their timeouts.
                for (int batch = 0; batch < TUNNELS; batch += BATCH) {
                    for (int i = batch; i < Math.min(TUNNELS, batch + BATCH); i++) {
                        Socket client = new Socket(InetAddress.getLoopbackAddress(), entry);
                        // A relay without ingress layers admits a connection at its first byte (docs/OBSERVABILITY.md).
                        client.getOutputStream().write(0);
                        clients.add(client);
                    }
                    // A tunnel reaches the target only once every layer on the way is up.
                    int expected = clients.size();
                    await().atMost(Duration.ofSeconds(60))
                            .pollInterval(Duration.ofMillis(20))
                            .until(() -> hold.accepted() == expected);
                }
            } catch (ConditionTimeoutException e) {
                throw new AssertionError(
                        hold.accepted() + " of " + TUNNELS + " tunnels reached the target: "
                                + management.get("/actuator/onion").body(),
                        e);
            }
            double setUpSeconds = (System.nanoTime() - started) / 1e9;

            JsonNode report = management.get("/actuator/onion").json();
            assertThat(report.get("tunnelCount").asInt()).isEqualTo(2 * TUNNELS);
            for (JsonNode relay : report.get("relays")) {
                assertThat(relay.get("activeTunnels").asInt()).isEqualTo(TUNNELS);
                assertThat(relay.get("handshakesSucceeded").asLong()).isEqualTo((long) DEPTH * TUNNELS);
            }
            assertThat(report.get("layerDepth").get("maxLive").asInt()).isEqualTo(DEPTH);
            Exposition exposition =
                    Exposition.parse(management.get("/actuator/prometheus").body());
            assertThat(exposition.value("onion_tunnels_active", Map.of("relay", "exit")))
                    .isEqualTo((double) TUNNELS);
            assertThat(exposition.value("onion_layers_active", Map.of("relay", "exit", "side", "ingress")))
                    .isEqualTo((double) DEPTH * TUNNELS);

            List<String> busy = List.of(
                    http(management, "/actuator/prometheus").toString(),
                    http(management, "/actuator/onion").toString(),
                    cpu("scrape()", scrape).toString(),
                    cpu("onion() as JSON", read).toString());
            System.out.printf(
                    Locale.ROOT,
                    "ACTUATOR COST %s: %d cores, Java %s, %s %s, load average %.1f; %d sequential requests or calls"
                            + " after %d warm-up%n"
                            + "  with %,d open tunnels on each of 2 relays, depth %d (set up in %.1f s):%n    %s%n"
                            + "  with no tunnel:%n    %s%n",
                    Instant.now(),
                    Runtime.getRuntime().availableProcessors(),
                    System.getProperty("java.version"),
                    System.getProperty("os.name"),
                    System.getProperty("os.version"),
                    ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage(),
                    MEASURED,
                    WARM_UP,
                    TUNNELS,
                    DEPTH,
                    setUpSeconds,
                    String.join("\n    ", busy),
                    String.join("\n    ", idle));
        } finally {
            for (Socket client : clients) {
                client.close();
            }
        }
    }

    /** Milliseconds per request or call, and the size of what it returned. */
    record Timing(String what, String unit, double median, double p95, double max, int bytes) {
        static Timing of(String what, String unit, double[] millis, int bytes) {
            Arrays.sort(millis);
            return new Timing(
                    what,
                    unit,
                    millis[millis.length / 2],
                    millis[(int) Math.ceil(millis.length * 0.95) - 1],
                    millis[millis.length - 1],
                    bytes);
        }

        @Override
        public String toString() {
            return String.format(
                    Locale.ROOT,
                    "%-24s %-9s median %6.2f ms  p95 %6.2f ms  max %6.2f ms  (%,d bytes)",
                    what,
                    unit,
                    median,
                    p95,
                    max,
                    bytes);
        }
    }

    /** Wall time of GET {@code path} on the management port. */
    private static Timing http(ApiClient management, String path) {
        int bytes = 0;
        for (int i = 0; i < WARM_UP; i++) {
            Response response = management.get(path);
            assertThat(response.status()).isEqualTo(200);
            bytes = response.body().length();
        }
        double[] millis = new double[MEASURED];
        for (int i = 0; i < MEASURED; i++) {
            long start = System.nanoTime();
            Response response = management.get(path);
            millis[i] = (System.nanoTime() - start) / 1e6;
            assertThat(response.status()).isEqualTo(200);
        }
        return Timing.of(path, "HTTP wall", millis, bytes);
    }

    /** CPU time of this thread producing a body in-process. */
    private static Timing cpu(String what, Supplier<String> body) {
        ThreadMXBean threads = ManagementFactory.getThreadMXBean();
        int bytes = 0;
        for (int i = 0; i < WARM_UP; i++) {
            bytes = body.get().length();
        }
        double[] millis = new double[MEASURED];
        for (int i = 0; i < MEASURED; i++) {
            long start = threads.getCurrentThreadCpuTime();
            body.get();
            millis[i] = (threads.getCurrentThreadCpuTime() - start) / 1e6;
        }
        return Timing.of(what, "CPU", millis, bytes);
    }

    private static int relay(ApiClient api, String name, int targetPort, List<?> ingress, List<?> egress) {
        Response response = api.post(
                "/relays",
                Map.of(
                        "name",
                        name,
                        "listen",
                        Map.of("host", "127.0.0.1", "port", 0),
                        "target",
                        Map.of("host", "127.0.0.1", "port", targetPort),
                        "ingress",
                        ingress,
                        "egress",
                        egress,
                        // Generous: on a busy machine a batch of handshakes can take longer than the default 10 s.
                        "options",
                        Map.of("handshakeTimeout", "60s")));
        created(response);
        return response.json().get("listen").get("port").asInt();
    }

    private static void created(Response response) {
        assertThat(response.status()).as(response.toString()).isEqualTo(201);
    }

    /** A target that accepts connections and holds them without reading or writing: tunnels stay open and idle. */
    private static final class SilentTarget implements AutoCloseable {

        private final ServerSocket server = new ServerSocket(0, 2 * TUNNELS, InetAddress.getLoopbackAddress());
        private final List<Socket> held = new CopyOnWriteArrayList<>();

        SilentTarget() throws IOException {
            Thread acceptor = new Thread(
                    () -> {
                        while (!server.isClosed()) {
                            try {
                                held.add(server.accept());
                            } catch (IOException closed) {
                                return;
                            }
                        }
                    },
                    "silent-target");
            acceptor.setDaemon(true);
            acceptor.start();
        }

        int port() {
            return server.getLocalPort();
        }

        int accepted() {
            return held.size();
        }

        @Override
        public void close() throws IOException {
            server.close();
            for (Socket socket : held) {
                socket.close();
            }
        }
    }
}
