package dev.onionrelay.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;

/**
 * The baseline: a depth-N onion built the classic way, from stunnel processes with one layer each.
 *
 * <p>Layer order. Outbound bytes must be sealed innermost first, so the application talks to the client process of
 * the innermost layer N; its TLS output is the plaintext of the client process for layer N-1, and so on out to layer
 * 1, whose output goes on the wire:
 *
 * <pre>
 * app -> C_N -> C_N-1 -> ... -> C_1 -> S_1 -> S_2 -> ... -> S_N -> target
 * </pre>
 *
 * The far side peels outermost first: S_1 terminates layer 1 and hands its plaintext (still N-1 layers deep) to S_2.
 * Each C_i checks the name {@code layer<i>.onion-bench.test} that only S_i's certificate carries, so a chain in the
 * wrong order cannot complete a handshake. The same certificates serve the onion-relay side.
 *
 * <p>Every process gets the same TLS parameters as onion-relay's layers (TLS 1.3 with TLS_AES_128_GCM_SHA256, TLS 1.2
 * minimum, TCP_NODELAY), logs only warnings, and does not wait for close_notify on close.
 */
final class StunnelChain implements AutoCloseable {

    private final List<Process> clients = new ArrayList<>();
    private final List<Process> servers = new ArrayList<>();
    private int entryPort = -1;

    static String binary() {
        for (String candidate : List.of("/usr/bin/stunnel4", "/usr/bin/stunnel", "/usr/local/bin/stunnel")) {
            if (Files.isExecutable(Path.of(candidate))) {
                return candidate;
            }
        }
        throw new IllegalStateException("stunnel not found: apt-get install -y stunnel4");
    }

    /** The far side: S_1 .. S_depth, the last one connected to {@code targetPort}. Returns the chain. */
    static StunnelChain servers(Pki pki, Path dir, int depth, int targetPort) throws IOException, InterruptedException {
        StunnelChain chain = new StunnelChain();
        chain.addServers(pki, dir, depth, targetPort);
        return chain;
    }

    /** The near side: C_depth .. C_1, C_1 connected to {@code outerPort}. The application connects to C_depth. */
    static StunnelChain clients(Pki pki, Path dir, int depth, int outerPort) throws IOException, InterruptedException {
        StunnelChain chain = new StunnelChain();
        chain.addClients(pki, dir, depth, outerPort);
        return chain;
    }

    /** Both sides of a depth-N onion in front of {@code targetPort}. */
    static StunnelChain full(Pki pki, Path dir, int depth, int targetPort) throws IOException, InterruptedException {
        StunnelChain chain = new StunnelChain();
        try {
            int outer = chain.addServers(pki, dir, depth, targetPort);
            chain.addClients(pki, dir, depth, outer);
            return chain;
        } catch (IOException | InterruptedException | RuntimeException e) {
            chain.close();
            throw e;
        }
    }

    /** Where the application connects: the innermost client, or S_1 for a servers-only chain. */
    int entryPort() {
        return entryPort;
    }

    List<Process> clientProcesses() {
        return clients;
    }

    List<Process> serverProcesses() {
        return servers;
    }

    private int addServers(Pki pki, Path dir, int depth, int targetPort) throws IOException, InterruptedException {
        int[] accept = new int[depth + 2];
        for (int i = 1; i <= depth; i++) {
            accept[i] = RelayService.freePort();
        }
        accept[depth + 1] = targetPort;
        // Innermost first, so that each process's target is listening when it starts.
        for (int i = depth; i >= 1; i--) {
            String service = String.join("\n",
                    "[s" + i + "]",
                    "accept = 127.0.0.1:" + accept[i],
                    "connect = 127.0.0.1:" + accept[i + 1],
                    "cert = " + pki.certificate(i),
                    "key = " + pki.key(i));
            servers.add(0, start(dir, "s" + i, service, accept[i]));
        }
        entryPort = accept[1];
        return accept[1];
    }

    private void addClients(Pki pki, Path dir, int depth, int outerPort) throws IOException, InterruptedException {
        int[] accept = new int[depth + 1];
        accept[0] = outerPort;
        // Outermost first, for the same reason.
        for (int i = 1; i <= depth; i++) {
            accept[i] = RelayService.freePort();
            String service = String.join("\n",
                    "[c" + i + "]",
                    "client = yes",
                    "accept = 127.0.0.1:" + accept[i],
                    "connect = 127.0.0.1:" + accept[i - 1],
                    "CAfile = " + pki.caCertificate,
                    "verifyChain = yes",
                    "checkHost = " + Pki.layerHost(i),
                    "sni = " + Pki.layerHost(i));
            clients.add(start(dir, "c" + i, service, accept[i]));
        }
        entryPort = accept[depth];
    }

    private static Process start(Path dir, String name, String service, int port)
            throws IOException, InterruptedException {
        Files.createDirectories(dir);
        Path config = dir.resolve(name + ".conf");
        Path log = dir.resolve(name + ".log");
        Files.writeString(config, String.join("\n",
                "foreground = yes",
                "pid =",
                "syslog = no",
                "output = " + log,
                "debug = warning",
                "",
                service,
                "sslVersionMin = TLSv1.2",
                "ciphersuites = TLS_AES_128_GCM_SHA256",
                "socket = l:TCP_NODELAY=1",
                "socket = r:TCP_NODELAY=1",
                "TIMEOUTclose = 0",
                "TIMEOUTidle = 3600",
                ""));
        Process process = new ProcessBuilder(binary(), config.toString())
                .redirectErrorStream(true)
                .redirectOutput(dir.resolve(name + ".stdout").toFile())
                .start();
        awaitListening(process, port, Duration.ofSeconds(20), log);
        return process;
    }

    /** Waits until something listens on 127.0.0.1:{@code port}, from /proc/net/tcp (no probe connection). */
    static void awaitListening(Process process, int port, Duration timeout, Path log)
            throws IOException, InterruptedException {
        String local = String.format(Locale.ROOT, "0100007F:%04X", port);
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            if (!process.isAlive()) {
                throw new IOException(process.info().command().orElse("process") + " exited with " + process.exitValue() + "; see " + log);
            }
            for (String line : Files.readAllLines(Path.of("/proc/net/tcp"))) {
                String[] fields = line.trim().split("\\s+");
                if (fields.length > 3 && fields[1].equals(local) && fields[3].equals("0A")) {
                    return;
                }
            }
            Thread.sleep(50);
        }
        throw new IOException("nothing listening on " + port + " after " + timeout + "; see " + log);
    }

    @Override
    public void close() {
        List<Process> all = new ArrayList<>(clients);
        all.addAll(servers);
        all.forEach(Process::destroy);
        for (Process process : all) {
            try {
                if (!process.waitFor(5, TimeUnit.SECONDS)) {
                    process.destroyForcibly();
                }
            } catch (InterruptedException e) {
                process.destroyForcibly();
                Thread.currentThread().interrupt();
            }
        }
    }
}
