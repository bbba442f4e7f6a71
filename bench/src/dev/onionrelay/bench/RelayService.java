package dev.onionrelay.bench;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * One onion-relay process, started from the service jar exactly as a user starts it, and driven over its REST API
 * with the admin token it generates into its state directory.
 */
final class RelayService implements AutoCloseable {

    private static final Pattern LISTEN_PORT = Pattern.compile("\"listen\"\\s*:\\s*\\{[^}]*\"port\"\\s*:\\s*(\\d+)");
    private static final HttpClient HTTP =
            HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    private static final int LOWEST_PORT = 10_000;
    private static final Set<Integer> HANDED_OUT = ConcurrentHashMap.newKeySet();

    final String name;
    private final Process process;
    private final int apiPort;
    private final int managementPort;
    private final Path stateDir;
    private String token;

    private RelayService(String name, Process process, int apiPort, int managementPort, Path stateDir) {
        this.name = name;
        this.process = process;
        this.apiPort = apiPort;
        this.managementPort = managementPort;
        this.stateDir = stateDir;
    }

    /** Starts the jar; {@link #awaitReady} waits for it. */
    static RelayService start(Path jar, Path dir, String name, String provider, String transport, List<String> jvmArgs)
            throws IOException {
        return start(Path.of(System.getProperty("java.home"), "bin", "java"), jar, dir, name, provider, transport,
                jvmArgs);
    }

    /** Starts the jar on the {@code java} binary given. */
    static RelayService start(Path java, Path jar, Path dir, String name, String provider, String transport,
            List<String> jvmArgs) throws IOException {
        Files.createDirectories(dir);
        int api = freePort();
        int management = freePort();
        Path state = dir.resolve("state");
        List<String> command = new ArrayList<>();
        command.add(java.toString());
        // NMT makes the direct (Unsafe) memory of Netty's buffers visible to the memory measurement.
        command.add("-XX:NativeMemoryTracking=summary");
        // As the image's entry point: Netty's native libraries, and on Java 22+ the OpenSSL engine's access_denied.
        command.add("--enable-native-access=ALL-UNNAMED");
        command.addAll(jvmArgs);
        command.addAll(List.of(
                "-jar", jar.toString(),
                "--server.port=" + api,
                "--management.server.port=" + management,
                "--onion.state-dir=" + state,
                "--onion.tls.provider=" + provider,
                "--onion.engine.transport=" + transport,
                "--onion.limits.idle-timeout=1h"));
        Process process = new ProcessBuilder(command)
                .directory(dir.toFile())
                .redirectErrorStream(true)
                .redirectOutput(dir.resolve("service.log").toFile())
                .start();
        return new RelayService(name, process, api, management, state);
    }

    void awaitReady(Duration timeout) throws IOException, InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        URI health = URI.create("http://127.0.0.1:" + managementPort + "/actuator/health");
        while (System.nanoTime() < deadline) {
            if (!process.isAlive()) {
                throw new IOException(name + " exited with " + process.exitValue() + "; see its service.log");
            }
            try {
                HttpResponse<String> response = HTTP.send(
                        HttpRequest.newBuilder(health).timeout(Duration.ofSeconds(5)).build(),
                        HttpResponse.BodyHandlers.ofString());
                Path tokenFile = stateDir.resolve("admin.token");
                if (response.statusCode() == 200 && Files.exists(tokenFile)) {
                    token = Files.readString(tokenFile).trim();
                    return;
                }
            } catch (IOException notYet) {
                // Not listening yet.
            }
            Thread.sleep(250);
        }
        throw new IOException(name + " not ready after " + timeout);
    }

    long pid() {
        return process.pid();
    }

    void credential(String credentialName, Path certificate, Path key) throws IOException, InterruptedException {
        StringBuilder body = new StringBuilder("{\"name\":").append(Json.quote(credentialName))
                .append(",\"certificate\":").append(Json.quote(Pki.read(certificate)));
        if (key != null) {
            body.append(",\"privateKey\":").append(Json.quote(Pki.read(key)));
        }
        post("/credentials", body.append('}').toString());
    }

    /**
     * Creates a relay on an ephemeral loopback port and returns the port.
     *
     * @param ingress identity credential names, outermost first
     * @param egress serverNames, outermost first (all layers trust {@code trust})
     */
    int relay(String relayName, int targetPort, List<String> ingress, List<String> egress, String trust,
            int maxTunnels) throws IOException, InterruptedException {
        StringBuilder body = new StringBuilder()
                .append("{\"name\":").append(Json.quote(relayName))
                .append(",\"listen\":{\"host\":\"127.0.0.1\",\"port\":0}")
                .append(",\"target\":{\"host\":\"127.0.0.1\",\"port\":").append(targetPort).append('}')
                .append(",\"ingress\":[");
        for (int i = 0; i < ingress.size(); i++) {
            body.append(i > 0 ? "," : "").append("{\"name\":\"l").append(i + 1).append("\",\"credential\":")
                    .append(Json.quote(ingress.get(i))).append('}');
        }
        body.append("],\"egress\":[");
        for (int i = 0; i < egress.size(); i++) {
            body.append(i > 0 ? "," : "").append("{\"name\":\"l").append(i + 1).append("\",\"trust\":")
                    .append(Json.quote(trust)).append(",\"serverName\":").append(Json.quote(egress.get(i)))
                    .append('}');
        }
        body.append("],\"options\":{\"maxTunnels\":").append(maxTunnels).append(",\"idleTimeout\":\"1h\"}}");
        String created = post("/relays", body.toString());
        Matcher port = LISTEN_PORT.matcher(created);
        if (!port.find()) {
            throw new IOException("no listen port in " + created);
        }
        return Integer.parseInt(port.group(1));
    }

    /**
     * Creates a relay whose layers are given as JSON objects (outermost first) on an ephemeral loopback port and
     * returns the port.
     */
    int relayOfLayers(String relayName, int targetPort, List<String> ingress, List<String> egress, int maxTunnels)
            throws IOException, InterruptedException {
        String body = "{\"name\":" + Json.quote(relayName)
                + ",\"listen\":{\"host\":\"127.0.0.1\",\"port\":0}"
                + ",\"target\":{\"host\":\"127.0.0.1\",\"port\":" + targetPort + "}"
                + ",\"ingress\":[" + String.join(",", ingress) + "],\"egress\":[" + String.join(",", egress)
                + "],\"options\":{\"maxTunnels\":" + maxTunnels + ",\"idleTimeout\":\"1h\"}}";
        Matcher port = LISTEN_PORT.matcher(post("/relays", body));
        if (!port.find()) {
            throw new IOException("no listen port for " + relayName);
        }
        return Integer.parseInt(port.group(1));
    }

    String get(String path) throws IOException, InterruptedException {
        HttpResponse<String> response = HTTP.send(
                request(path).GET().build(), HttpResponse.BodyHandlers.ofString());
        if (response.statusCode() != 200) {
            throw new IOException("GET " + path + " on " + name + ": " + response.statusCode() + " " + response.body());
        }
        return response.body();
    }

    private String post(String path, String json) throws IOException, InterruptedException {
        HttpResponse<String> response = HTTP.send(
                request(path).header("Content-Type", "application/json")
                        .POST(HttpRequest.BodyPublishers.ofString(json)).build(),
                HttpResponse.BodyHandlers.ofString());
        if (response.statusCode() != 201) {
            throw new IOException(
                    "POST " + path + " on " + name + ": " + response.statusCode() + " " + response.body());
        }
        return response.body();
    }

    private HttpRequest.Builder request(String path) {
        return HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + apiPort + path))
                .timeout(Duration.ofSeconds(60))
                .header("Authorization", "Bearer " + token);
    }

    @Override
    public void close() {
        process.destroy();
        try {
            if (!process.waitFor(10, TimeUnit.SECONDS)) {
                process.destroyForcibly();
            }
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
        }
    }

    /**
     * A port free on loopback now, for another process to bind, taken below the kernel's ephemeral range: a port from
     * {@code new ServerSocket(0)} comes from that range, and while a service JVM starts (a minute under load) any
     * outgoing connection on the machine can be given it as its local port; the service then failed with "Port ... was
     * already in use" (twice in a row here, with 20,000 connections in TIME-WAIT from other builds). Below the range
     * only a listener can take it. Handed out once per run.
     */
    static int freePort() throws IOException {
        int below = ephemeralLow();
        for (int tries = 0; tries < 1_000; tries++) {
            int port = ThreadLocalRandom.current().nextInt(LOWEST_PORT, below);
            if (HANDED_OUT.contains(port)) {
                continue;
            }
            try (ServerSocket probe = new ServerSocket(port, 1, InetAddress.getLoopbackAddress())) {
                HANDED_OUT.add(port);
                return port;
            } catch (IOException taken) {
                // Try another.
            }
        }
        throw new IOException("no free loopback port below " + below);
    }

    /** The first port of the kernel's ephemeral range (32768 by default on Linux). */
    private static int ephemeralLow() {
        try {
            String range = Files.readString(Path.of("/proc/sys/net/ipv4/ip_local_port_range")).trim();
            int low = Integer.parseInt(range.split("\\s+")[0]);
            return low > LOWEST_PORT + 1_000 ? low : 32_768;
        } catch (IOException | RuntimeException unreadable) {
            return 32_768;
        }
    }
}
