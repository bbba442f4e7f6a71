package dev.onionrelay.bench;

import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Issue 26, acceptance 5: what {@code allow} adds to the relay CPU per tunnel set up. Per onion-relay configuration
 * and depth 1 and 2, two relay pairs in the same two processes, both with mutual TLS on every layer (the exit's layers
 * require a client certificate, the entry's present one): one without {@code allow}, one with a five-entry list and
 * a CEL expression on every layer of both sides (the exit judges the client's certificate, the entry the server's).
 * Runs of the two alternate (which goes first alternates too), so that load from elsewhere hits both alike; the
 * figure per pair is the least CPU per tunnel over its runs, as in the set-up phase, and the target is the ratio
 * with / without at most 1.10. Every run's ratio is printed as well, for the scatter.
 */
final class AllowCost {

    /**
     * Five entries, one of each kind but the pin (the certificates are made per run), of which only the DNS wildcard
     * matches every layer's certificate, so each list is read to its end; and an expression that must hold as well.
     */
    static final String ALLOW = "{\"commonNames\":[\"frontend.onion-bench.test\"],"
            + "\"organizationalUnits\":[\"edge\"],"
            + "\"uris\":[\"spiffe://onion-bench.test/ns/web/sa/frontend\"],"
            + "\"ipAddresses\":[\"10.0.0.0/8\"],"
            + "\"dnsNames\":[\"*.onion-bench.test\"],"
            + "\"expression\":\"peer.notAfter > now && peer.dnsNames.exists(d, d.endsWith('.onion-bench.test'))\"}";

    static final double WANTED = 1.10;

    private AllowCost() {}

    /** The ports of one configuration's two pairs at one depth. */
    record Pairs(int depth, int without, int with) {}

    /** Creates the relay pairs of {@code onion} for depths 1 to {@code maxDepth}. */
    static List<Pairs> configure(Contender.Onion onion, int maxDepth, int sinkPort)
            throws IOException, InterruptedException {
        List<Pairs> pairs = new ArrayList<>();
        for (int depth = 1; depth <= maxDepth; depth++) {
            pairs.add(new Pairs(depth, pair(onion, depth, sinkPort, false), pair(onion, depth, sinkPort, true)));
        }
        return pairs;
    }

    private static int pair(Contender.Onion onion, int depth, int sinkPort, boolean allow)
            throws IOException, InterruptedException {
        String judged = allow ? ",\"allow\":" + ALLOW : "";
        List<String> ingress = new ArrayList<>();
        List<String> egress = new ArrayList<>();
        for (int i = 1; i <= depth; i++) {
            ingress.add("{\"name\":\"l" + i + "\",\"credential\":\"layer" + i + "\",\"trust\":\"bench-ca\","
                    + "\"clientAuth\":\"require\"" + judged + "}");
            egress.add("{\"name\":\"l" + i + "\",\"credential\":\"layer" + i + "\",\"trust\":\"bench-ca\","
                    + "\"serverName\":" + Json.quote(Pki.layerHost(i)) + judged + "}");
        }
        String name = (allow ? "allow-" : "mtls-") + depth;
        int exit = onion.exit.relayOfLayers("exit-" + name, sinkPort, ingress, List.of(), 1024);
        return onion.entry.relayOfLayers("entry-" + name, exit, List.of(), egress, 1024);
    }

    /** One configuration's figures at one depth: CPU ms per tunnel of every run, without and with. */
    record Result(Contender.Onion onion, int depth, List<Double> without, List<Double> with, List<Double> rates,
            long failures, String engines, String java) {

        double least(List<Double> values) {
            return values.stream().mapToDouble(Double::doubleValue).min().orElse(Double.NaN);
        }

        double ratio() {
            return least(with) / least(without);
        }

        /** The ratio of each run of "with" to the run of "without" next to it. */
        List<Double> runRatios() {
            List<Double> ratios = new ArrayList<>();
            for (int i = 0; i < Math.min(with.size(), without.size()); i++) {
                ratios.add(with.get(i) / without.get(i));
            }
            return ratios;
        }
    }

    /** Warms both pairs up, then measures them in alternation, {@code runs} times each. */
    static Result measure(Contender.Onion onion, Pairs pairs, Options options) throws Exception {
        Duration warmup = Duration.ofMillis(500);
        Duration window = Duration.ofMillis((long) (options.seconds * 1000));
        // The global warm-up did not go through these relays: compile the allow path (CEL included) first.
        for (int round = 0; round < 5; round++) {
            Load.setupRate(pairs.without(), options.setupConcurrency, Duration.ZERO, Duration.ofSeconds(2));
            Load.setupRate(pairs.with(), options.setupConcurrency, Duration.ZERO, Duration.ofSeconds(2));
        }
        List<Double> without = new ArrayList<>();
        List<Double> with = new ArrayList<>();
        List<Double> rates = new ArrayList<>();
        long failures = 0;
        List<Long> pids = onion.pids(pairs.depth());
        for (int run = 0; run < options.runs; run++) {
            for (int k = 0; k < 2; k++) {
                boolean allow = (run + k) % 2 == 1;
                double cpuBefore = Cpu.seconds(pids);
                Load.SetupRate r = Load.setupRate(
                        allow ? pairs.with() : pairs.without(), options.setupConcurrency, warmup, window);
                double cpuPerTunnel = (Cpu.seconds(pids) - cpuBefore) * 1000 / Math.max(1, r.all());
                if (r.tunnels() == 0) {
                    throw new IOException(onion.label + ": no tunnel set up through the "
                            + (allow ? "allow" : "mutual-TLS") + " pair at depth " + pairs.depth()
                            + " (see the relays' logs)");
                }
                (allow ? with : without).add(cpuPerTunnel);
                if (allow) {
                    rates.add(r.perSecond());
                }
                failures += r.failures();
                Thread.sleep(300);
            }
        }
        return new Result(onion, pairs.depth(), without, with, rates, failures, engines(onion, pairs),
                Cpu.javaVersion(onion.entry.pid()));
    }

    /** The TLS engine of each layer of one open tunnel of the allow pair, exit side then entry side. */
    private static String engines(Contender.Onion onion, Pairs pairs) throws Exception {
        Load.Idle idle = Load.openIdle(pairs.with(), 1, 1);
        try {
            if (idle.channels().isEmpty()) {
                return "unknown (" + idle.failure() + ")";
            }
            String name = "allow-" + pairs.depth();
            return "exit " + Json.strings(onion.exit.get("/relays/exit-" + name + "/tunnels"), "provider")
                    + ", entry " + Json.strings(onion.entry.get("/relays/entry-" + name + "/tunnels"), "provider");
        } finally {
            Load.closeAll(idle.channels());
        }
    }

    static String format(Result r) {
        StringBuilder runs = new StringBuilder();
        for (double ratio : r.runRatios()) {
            runs.append(runs.length() > 0 ? " " : "").append(String.format(Locale.ROOT, "%.2f", ratio));
        }
        return String.format(Locale.ROOT, "%s depth %d: %.2f vs %.2f CPU ms/tunnel = %.2fx (runs: %s); %s",
                r.onion().label, r.depth(), r.least(r.with()), r.least(r.without()), r.ratio(), runs, r.engines());
    }
}
