package dev.onionrelay.bench;

import java.io.IOException;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Something that builds a depth-N tunnel to the sink: onion-relay in one configuration, the stunnel chain, or nothing.
 */
abstract class Contender implements AutoCloseable {

    final String label;

    Contender(String label) {
        this.label = label;
    }

    abstract boolean supports(int depth);

    /** Where the load generator connects for a depth-{@code depth} tunnel. */
    abstract int port(int depth);

    /** The processes that carry a depth-{@code depth} tunnel (the load generator and the sink excluded). */
    abstract List<Long> pids(int depth);

    /** Memory attributed to one side of the tunnel (the entry or the exit process/processes). */
    record SideMemory(String side, String processes, long heap, long direct, long rss) {

        /** Field by field, the lesser of two measurements of the same side (-1, unknown, stays unknown). */
        static SideMemory least(SideMemory a, SideMemory b) {
            return new SideMemory(a.side, a.processes, least(a.heap, b.heap), least(a.direct, b.direct),
                    least(a.rss, b.rss));
        }

        private static long least(long a, long b) {
            return a < 0 ? b : b < 0 ? a : Math.min(a, b);
        }
    }

    /** Memory of the processes holding depth-{@code depth} tunnels, for before/after comparison. */
    abstract List<SideMemory> memory(int depth) throws IOException, InterruptedException;

    /** A line saying what really runs (transport, TLS engine) while {@code idle} tunnels are open, or empty. */
    String verifyRunning(int depth, int idle) throws IOException, InterruptedException {
        return "";
    }

    @Override
    public void close() {}

    /** The load generator straight into the sink: the ceiling of what the harness can measure. */
    static final class Direct extends Contender {
        private final int sinkPort;
        private final List<Long> harness;

        /** @param harness the sink's and the load generator's processes, whose CPU this contender reports */
        Direct(int sinkPort, List<Long> harness) {
            super("direct (no relay)");
            this.sinkPort = sinkPort;
            this.harness = harness;
        }

        @Override
        boolean supports(int depth) {
            return depth == 0;
        }

        @Override
        int port(int depth) {
            return sinkPort;
        }

        @Override
        List<Long> pids(int depth) {
            return harness;
        }

        @Override
        List<SideMemory> memory(int depth) {
            return List.of();
        }
    }

    /** Two onion-relay processes: one holds the entry relays (egress depth N), the other the exit relays. */
    static final class Onion extends Contender {
        final String provider;
        final String transport;
        final RelayService entry;
        final RelayService exit;
        final Map<Integer, Integer> entryPorts = new TreeMap<>();
        final Map<Integer, Integer> exitPorts = new TreeMap<>();

        Onion(String provider, String transport, String tag, RelayService entry, RelayService exit) {
            super("onion-relay " + provider + "/" + transport + tag);
            this.provider = provider;
            this.transport = transport;
            this.entry = entry;
            this.exit = exit;
        }

        /** Credentials from the shared PKI and an entry/exit relay pair per depth, in front of the sink. */
        void configure(Pki pki, int maxDepth, int sinkPort, int maxTunnels) throws IOException, InterruptedException {
            for (RelayService service : List.of(entry, exit)) {
                service.credential("bench-ca", pki.caCertificate, null);
                for (int i = 1; i <= maxDepth; i++) {
                    service.credential("layer" + i, pki.certificate(i), pki.key(i));
                }
            }
            for (int depth = 0; depth <= maxDepth; depth++) {
                List<String> identities = new ArrayList<>();
                List<String> names = new ArrayList<>();
                for (int i = 1; i <= depth; i++) {
                    identities.add("layer" + i);
                    names.add(Pki.layerHost(i));
                }
                int exitPort = exit.relay("exit-" + depth, sinkPort, identities, List.of(), "bench-ca", maxTunnels);
                int entryPort = entry.relay("entry-" + depth, exitPort, List.of(), names, "bench-ca", maxTunnels);
                entryPorts.put(depth, entryPort);
                exitPorts.put(depth, exitPort);
            }
        }

        /** An entry relay of this service in front of another target (the stunnel exits, for the cross-check). */
        int entryTo(String name, int depth, int targetPort) throws IOException, InterruptedException {
            List<String> names = new ArrayList<>();
            for (int i = 1; i <= depth; i++) {
                names.add(Pki.layerHost(i));
            }
            return entry.relay(name, targetPort, List.of(), names, "bench-ca", 64);
        }

        int exitPort(int depth) {
            return exitPorts.get(depth);
        }

        @Override
        boolean supports(int depth) {
            return entryPorts.containsKey(depth);
        }

        @Override
        int port(int depth) {
            return entryPorts.get(depth);
        }

        @Override
        List<Long> pids(int depth) {
            return List.of(entry.pid(), exit.pid());
        }

        @Override
        List<SideMemory> memory(int depth) throws IOException, InterruptedException {
            ProcessMemory.Jvm in = ProcessMemory.jvm(entry.pid());
            ProcessMemory.Jvm out = ProcessMemory.jvm(exit.pid());
            return List.of(
                    new SideMemory("entry", "1 JVM", in.heap(), in.direct(), in.rss()),
                    new SideMemory("exit", "1 JVM", out.heap(), out.direct(), out.rss()));
        }

        @Override
        String verifyRunning(int depth, int idle) throws IOException, InterruptedException {
            long entryTunnels = Json.number(entry.get("/relays/entry-" + depth), "activeTunnels");
            long exitTunnels = Json.number(exit.get("/relays/exit-" + depth), "activeTunnels");
            if (entryTunnels < idle || exitTunnels < idle) {
                throw new IOException(label + ": expected " + idle + " open tunnels, the relays report " + entryTunnels
                        + " (entry) and " + exitTunnels + " (exit)");
            }
            return "entry " + ProcessMemory.engineClasses(entry.pid()) + ", exit "
                    + ProcessMemory.engineClasses(exit.pid()) + " with " + entryTunnels + "/" + exitTunnels
                    + " tunnels open";
        }

        /** The live layers of one open tunnel of entry-{@code depth}: protocol, cipher and provider per layer. */
        String layers(int depth) throws IOException, InterruptedException {
            String tunnels = entry.get("/relays/entry-" + depth + "/tunnels");
            List<String> protocols = Json.strings(tunnels, "protocol");
            List<String> ciphers = Json.strings(tunnels, "cipher");
            List<String> providers = Json.strings(tunnels, "provider");
            StringBuilder out = new StringBuilder();
            for (int i = 0; i < Math.min(depth, protocols.size()); i++) {
                out.append(i > 0 ? "; " : "").append("l").append(i + 1).append(' ')
                        .append(protocols.get(i)).append(' ').append(ciphers.get(i)).append(' ')
                        .append(providers.get(i));
            }
            return out.toString();
        }

        @Override
        public void close() {
            entry.close();
            exit.close();
        }
    }

    /** stunnel processes, one layer each, chained per depth ({@link StunnelChain}). */
    static final class Stunnel extends Contender {
        final Map<Integer, StunnelChain> chains = new TreeMap<>();

        Stunnel() {
            super("stunnel chain");
        }

        @Override
        boolean supports(int depth) {
            return chains.containsKey(depth);
        }

        @Override
        int port(int depth) {
            return chains.get(depth).entryPort();
        }

        @Override
        List<Long> pids(int depth) {
            StunnelChain chain = chains.get(depth);
            List<Long> pids = new ArrayList<>();
            chain.clientProcesses().forEach(p -> pids.add(p.pid()));
            chain.serverProcesses().forEach(p -> pids.add(p.pid()));
            return pids;
        }

        @Override
        List<SideMemory> memory(int depth) throws IOException {
            StunnelChain chain = chains.get(depth);
            return List.of(
                    side("entry", chain.clientProcesses()),
                    side("exit", chain.serverProcesses()));
        }

        private static SideMemory side(String name, List<Process> processes) throws IOException {
            long rss = 0;
            for (Process p : processes) {
                rss += ProcessMemory.rss(p.pid());
            }
            return new SideMemory(name, processes.size() + " processes", -1, -1, rss);
        }

        @Override
        public void close() {
            chains.values().forEach(StunnelChain::close);
        }
    }

    /**
     * Two processes of {@code bench/floor/plain-relay.c} in a row in front of the sink: the same three loopback hops
     * as onion-relay's entry and exit at depth 0, relaying plaintext in C with nothing else to do. Their CPU per GB is
     * the floor of any two-process relay on this machine.
     */
    static final class PlainRelays extends Contender {
        private final Process entry;
        private final Process exit;
        private final int entryPort;

        private PlainRelays(Process entry, Process exit, int entryPort) {
            super("plain C relay pair");
            this.entry = entry;
            this.exit = exit;
            this.entryPort = entryPort;
        }

        static PlainRelays start(Path binary, Path dir, int sinkPort) throws IOException, InterruptedException {
            Files.createDirectories(dir);
            int exitPort = RelayService.freePort();
            Process exit = launch(binary, dir.resolve("exit.log"), exitPort, sinkPort);
            int entryPort = RelayService.freePort();
            Process entry = launch(binary, dir.resolve("entry.log"), entryPort, exitPort);
            return new PlainRelays(entry, exit, entryPort);
        }

        private static Process launch(Path binary, Path log, int port, int target)
                throws IOException, InterruptedException {
            Process process = new ProcessBuilder(binary.toString(), Integer.toString(port), Integer.toString(target))
                    .redirectErrorStream(true)
                    .redirectOutput(log.toFile())
                    .start();
            StunnelChain.awaitListening(process, port, java.time.Duration.ofSeconds(10), log);
            return process;
        }

        @Override
        boolean supports(int depth) {
            return depth == 0;
        }

        @Override
        int port(int depth) {
            return entryPort;
        }

        @Override
        List<Long> pids(int depth) {
            return List.of(entry.pid(), exit.pid());
        }

        @Override
        List<SideMemory> memory(int depth) {
            return List.of();
        }

        @Override
        public void close() {
            entry.destroy();
            exit.destroy();
        }
    }
}
