package dev.onionrelay.relay;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.onionrelay.support.ApiClient;
import dev.onionrelay.support.EchoServer;
import dev.onionrelay.support.Exposition;
import dev.onionrelay.support.Scenario;
import dev.onionrelay.support.ServiceProcess;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Graceful shutdown (issue 25): the service runs as a process with a depth-2 onion (an entry relay wrapping two TLS
 * layers, an exit relay peeling them, in front of an echo server). Clients stream through it, paced so that they are
 * still streaming when SIGTERM arrives. From then on readiness answers 503 and a new connection to the entry is
 * refused; the open tunnels run on and finish intact (SHA-256 of what came back), or are closed at the drain timeout;
 * either way the process exits 0.
 */
@Scenario
class DrainOnShutdownTest {

    static final int TUNNELS = 50;
    static final int CHUNK = 64 * 1024;

    @TempDir
    static Path dir;

    /** One service per test, each stopped by it; both started at once (together they start faster than in turn). */
    static Onion longDrain;

    static Onion shortDrain;

    @BeforeAll
    static void startBoth() {
        CompletableFuture<Onion> longOne = CompletableFuture.supplyAsync(() -> start("long", "30s"));
        CompletableFuture<Onion> shortOne = CompletableFuture.supplyAsync(() -> start("short", "2s"));
        try {
            longDrain = longOne.join();
        } finally {
            shortDrain = shortOne.join();
        }
    }

    private static Onion start(String name, String drainTimeout) {
        try {
            return Onion.start(dir.resolve(name), drainTimeout);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @AfterAll
    static void stopBoth() throws IOException {
        for (Onion onion : new Onion[] {longDrain, shortDrain}) {
            if (onion != null) {
                onion.close();
            }
        }
    }

    @Test
    void fiftyStreamingTunnelsFinishIntactAfterSigtermWhileNewConnectionsAreRefused() throws Exception {
        // 4 MiB each, 64 KiB every 100 ms: about 6.4 s of streaming, most of it after the SIGTERM.
        Onion onion = longDrain;
        List<CompletableFuture<Echo>> echoes = onion.stream(TUNNELS, 64, Duration.ofMillis(100));
        onion.awaitActive(TUNNELS);

        long signalled = System.nanoTime();
        onion.service.terminate();

        await().atMost(Duration.ofSeconds(3))
                .pollInterval(Duration.ofMillis(20))
                .until(() -> onion.readinessStatus() == 503);
        await().atMost(Duration.ofSeconds(3))
                .pollInterval(Duration.ofMillis(20))
                .until(onion::newConnectionRefused);
        // Still draining: the tunnels are open, readiness is 503, the API and the scrape answer.
        assertThat(echoes).as("the tunnels are still streaming").noneMatch(CompletableFuture::isDone);
        assertThat(onion.readinessStatus()).isEqualTo(503);
        assertThat(onion.readiness()).contains("OUT_OF_SERVICE");
        assertThat(onion.tunnelsActive("entry")).isPositive();
        ApiClient.Response entry = onion.api.get("/relays/entry");
        assertThat(entry.status()).as("the API answers during the drain").isEqualTo(200);
        assertThat(entry.json().get("state").asString()).isEqualTo("STOPPED");
        assertThat(onion.newConnectionRefused())
                .as("a connection after SIGTERM is not accepted")
                .isTrue();

        for (CompletableFuture<Echo> echo : echoes) {
            assertThat(echo.get(30, TimeUnit.SECONDS).intact())
                    .as("every tunnel open at SIGTERM finishes intact")
                    .isTrue();
        }
        assertThat(onion.service.awaitExit(Duration.ofSeconds(30))).isTrue();
        Duration took = Duration.ofNanos(System.nanoTime() - signalled);
        System.out.printf(
                "%d tunnels drained; exit %d after %d ms%n", TUNNELS, onion.service.exitCode(), took.toMillis());
        assertThat(onion.service.exitCode()).isZero();
        assertThat(took).as("within the drain timeout").isLessThan(Duration.ofSeconds(30));
        // Counted over all relays: each client has a tunnel on the entry and one on the exit.
        assertThat(onion.log()).contains("drained: the " + 2 * TUNNELS + " tunnels open when it began ended");
    }

    @Test
    void tunnelsThatOutliveAShortDrainTimeoutAreClosedAtItAndTheExitIsStillZero() throws Exception {
        // 64 KiB every 200 ms for 160 chunks: 32 s, far beyond the 2 s drain.
        Onion onion = shortDrain;
        List<CompletableFuture<Echo>> echoes = onion.stream(5, 160, Duration.ofMillis(200));
        onion.awaitActive(5);

        long signalled = System.nanoTime();
        onion.service.terminate();
        assertThat(onion.service.awaitExit(Duration.ofSeconds(20))).isTrue();
        Duration took = Duration.ofNanos(System.nanoTime() - signalled);
        System.out.printf("exit %d after %d ms%n", onion.service.exitCode(), took.toMillis());
        assertThat(onion.service.exitCode()).isZero();
        assertThat(took)
                .as("the drain timeout, and the shutdown after it")
                .isGreaterThanOrEqualTo(Duration.ofSeconds(2));
        for (CompletableFuture<Echo> echo : echoes) {
            Echo cut = echo.get(10, TimeUnit.SECONDS);
            assertThat(cut.received()).as("closed before the end").isLessThan(cut.sent());
        }
        // Counted over all relays: each client has a tunnel on the entry and one on the exit.
        assertThat(onion.log()).contains("drain timeout (2s) reached: closed the 10 tunnels still open");
    }

    /** What one paced client sent and got back. */
    record Echo(long sent, long received, String sentSha256, String receivedSha256) {
        boolean intact() {
            return sent == received && sentSha256.equals(receivedSha256);
        }
    }

    /** The service process with its entry and exit relays, an echo target, and the clients' threads. */
    static final class Onion implements AutoCloseable {

        final ServiceProcess service;
        final EchoServer echo;
        final ApiClient api;
        final int entryPort;
        final Path log;
        final ExecutorService clients = Executors.newCachedThreadPool();

        private Onion(ServiceProcess service, EchoServer echo, Path log) {
            this.service = service;
            this.echo = echo;
            this.log = log;
            this.api = service.api();
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
            int exitPort = port(api.post(
                    "/relays",
                    Map.of(
                            "name", "exit",
                            "target", Map.of("host", "127.0.0.1", "port", echo.port()),
                            "ingress",
                                    List.of(
                                            Map.of("name", "outer", "credential", "hop"),
                                            Map.of("name", "inner", "credential", "hop")))));
            this.entryPort = port(api.post(
                    "/relays",
                    Map.of(
                            "name", "entry",
                            "target", Map.of("host", "127.0.0.1", "port", exitPort),
                            "egress",
                                    List.of(
                                            Map.of("name", "outer", "trust", "ca", "serverName", "localhost"),
                                            Map.of("name", "inner", "trust", "ca", "serverName", "localhost")))));
        }

        static Onion start(Path dir, String drainTimeout) throws IOException {
            Files.createDirectories(dir.resolve("state"));
            Path log = dir.resolve("service.log");
            EchoServer echo = new EchoServer();
            ServiceProcess service =
                    new ServiceProcess(dir.resolve("state"), log, "--onion.shutdown.drain-timeout=" + drainTimeout);
            try {
                service.start();
                return new Onion(service, echo, log);
            } catch (RuntimeException | Error e) {
                service.close();
                echo.close();
                throw e;
            }
        }

        private static void created(ApiClient.Response response) {
            assertThat(response.status()).as(response.toString()).isEqualTo(201);
        }

        private static int port(ApiClient.Response response) {
            created(response);
            return response.json().get("listen").get("port").asInt();
        }

        /** Starts {@code count} clients, each sending {@code chunks} of 64 KiB, one every {@code pace}. */
        List<CompletableFuture<Echo>> stream(int count, int chunks, Duration pace) {
            List<CompletableFuture<Echo>> echoes = new ArrayList<>();
            for (int i = 0; i < count; i++) {
                long seed = i;
                echoes.add(CompletableFuture.supplyAsync(() -> pacedEcho(seed, chunks, pace), clients));
            }
            return echoes;
        }

        /**
         * Sends {@code chunks} pseudo-random chunks at a pace while reading the echo, until as much came back as was
         * sent or the tunnel closes; no half-close, which this test is not about.
         */
        private Echo pacedEcho(long seed, int chunks, Duration pace) {
            long bytes = (long) chunks * CHUNK;
            try (Socket socket = new Socket(InetAddress.getLoopbackAddress(), entryPort)) {
                socket.setSoTimeout(60_000);
                MessageDigest sent = MessageDigest.getInstance("SHA-256");
                CompletableFuture<Void> writer = CompletableFuture.runAsync(
                        () -> {
                            try {
                                OutputStream out = socket.getOutputStream();
                                Random random = new Random(seed);
                                byte[] chunk = new byte[CHUNK];
                                for (int i = 0; i < chunks; i++) {
                                    random.nextBytes(chunk);
                                    sent.update(chunk);
                                    out.write(chunk);
                                    Thread.sleep(pace.toMillis());
                                }
                            } catch (IOException closed) {
                                // the tunnel was closed (the drain timeout): the reader sees it too
                            } catch (InterruptedException e) {
                                Thread.currentThread().interrupt();
                            }
                        },
                        clients);
                MessageDigest received = MessageDigest.getInstance("SHA-256");
                InputStream in = socket.getInputStream();
                byte[] buffer = new byte[64 * 1024];
                long count = 0;
                try {
                    int n;
                    while (count < bytes && (n = in.read(buffer)) > 0) {
                        received.update(buffer, 0, n);
                        count += n;
                    }
                } catch (IOException reset) {
                    // closed by the drain timeout
                }
                socket.close();
                writer.join();
                return new Echo(
                        bytes,
                        count,
                        HexFormat.of().formatHex(sent.digest()),
                        HexFormat.of().formatHex(received.digest()));
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            } catch (java.security.NoSuchAlgorithmException e) {
                throw new IllegalStateException(e);
            }
        }

        void awaitActive(int tunnels) {
            await().atMost(Duration.ofSeconds(20))
                    .pollInterval(Duration.ofMillis(50))
                    .until(() -> activeTunnels("entry") == tunnels && activeTunnels("exit") == tunnels);
        }

        private int activeTunnels(String relay) {
            return api.get("/relays/" + relay)
                    .json()
                    .get("stats")
                    .get("activeTunnels")
                    .asInt();
        }

        int readinessStatus() {
            return service.management().get("/actuator/health/readiness").status();
        }

        String readiness() {
            return service.management().get("/actuator/health/readiness").body();
        }

        /** {@code onion_tunnels_active} of a relay, from the scrape. */
        double tunnelsActive(String relay) {
            return Exposition.scrape(service.management()).sum("onion_tunnels_active", Map.of("relay", relay));
        }

        /** Whether a new connection to the entry is refused, or closed without carrying a byte. */
        boolean newConnectionRefused() {
            try (Socket socket = new Socket(InetAddress.getLoopbackAddress(), entryPort)) {
                socket.setSoTimeout(3000);
                socket.getOutputStream().write('x');
                return socket.getInputStream().read() == -1;
            } catch (IOException refusedOrReset) {
                return true;
            }
        }

        String log() throws IOException {
            return Files.readString(log);
        }

        @Override
        public void close() throws IOException {
            clients.shutdownNow();
            service.close();
            echo.close();
        }
    }
}
