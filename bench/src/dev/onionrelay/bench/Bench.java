package dev.onionrelay.bench;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * The onion-relay benchmark: the real service jar against a chain of stunnel processes, on the same certificates, in
 * the same run, over loopback. See {@code bench/README.md} and {@code docs/BENCHMARKS.md}.
 *
 * <p>Phases: throughput (MB/s, depth 0-4), tunnel set-up rate (tunnels/s, depth 1-3), the cost of allow (issue 26)
 * and of shaping (issue 27, {@link ShapingCost}), 1 KiB ping-pong latency (p50, p99, depth 2), memory per idle
 * depth-2 tunnel, memory per slow reader. Every transfer is checked end to end (byte count and SHA-256, or the
 * echoed bytes); a mismatch stops the run with exit status 2.
 */
public final class Bench {

    private final Options options;
    private final Path work;
    private final Report report = new Report();
    private final List<AutoCloseable> toClose = new ArrayList<>();
    private Process sink;
    private int sinkPort;
    private Contender.Direct direct;
    private Contender.PlainRelays plain;
    private final List<Contender.Onion> onions = new ArrayList<>();
    private Contender.Stunnel stunnel;

    private Bench(Options options) throws IOException {
        this.options = options;
        this.work = options.workDir != null
                ? options.workDir
                : Files.createTempDirectory("onion-bench-");
    }

    public static void main(String[] args) throws Exception {
        Options options;
        try {
            options = Options.parse(args);
        } catch (IllegalArgumentException e) {
            System.err.println(e.getMessage());
            System.err.println(Options.USAGE);
            System.exit(64);
            return;
        }
        if (options.help) {
            System.out.println(Options.USAGE);
            return;
        }
        Bench bench = new Bench(options);
        int status = 0;
        try {
            bench.run();
        } catch (Load.IntegrityFailure e) {
            System.out.println();
            System.out.println("INTEGRITY FAILURE: " + e.getMessage());
            status = 2;
        } finally {
            bench.shutdown();
        }
        System.exit(status);
    }

    private void run() throws Exception {
        Instant began = Instant.now();
        report.header(options, began);
        say("work directory " + work + " (logs of every process)");
        Pki pki = Pki.generate(work.resolve("pki"), options.maxDepth(), options.keyType);
        say("certificates: CA + " + options.maxDepth() + " layer identities (" + options.keyType + ") in " + pki.dir);
        startSink();
        direct = new Contender.Direct(sinkPort, List.of(sink.pid(), ProcessHandle.current().pid()));
        startOnions(pki);
        startStunnel(pki);
        startPlainRelays();
        crossCheck(pki);

        Load.Payload payload = new Load.Payload(7);
        warmUp(payload);
        if (options.phases.contains("throughput")) {
            throughput(payload);
        }
        if (options.phases.contains("setup")) {
            setup();
        }
        if (options.phases.contains("allow")) {
            allowCost();
        }
        if (options.phases.contains("shaping")) {
            shapingCost(payload);
        }
        if (options.phases.contains("latency")) {
            latency(payload);
        }
        if (options.phases.contains("memory")) {
            memory();
        }
        if (options.phases.contains("slow")) {
            slowReaders(pki);
        }
        report.footer(Duration.between(began, Instant.now()));
        System.out.println();
        System.out.print(report.text());
        if (options.markdown != null) {
            Files.createDirectories(options.markdown.toAbsolutePath().getParent());
            Files.writeString(options.markdown, report.markdown());
            System.out.println("markdown: " + options.markdown);
        }
    }

    private void startSink() throws IOException {
        Path classes = Path.of(Bench.class.getProtectionDomain().getCodeSource().getLocation().getPath());
        sink = new ProcessBuilder(
                        Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                        "-cp", classes.toString(),
                        Sink.class.getName(), "0", "2")
                .redirectError(work.resolve("sink.log").toFile())
                .start();
        BufferedReader out = new BufferedReader(new InputStreamReader(sink.getInputStream(), StandardCharsets.UTF_8));
        String ready = out.readLine();
        if (ready == null || !ready.startsWith("READY ")) {
            throw new IOException("sink did not start: " + ready + "; see " + work.resolve("sink.log"));
        }
        sinkPort = Integer.parseInt(ready.substring(6).trim());
        say("sink listening on 127.0.0.1:" + sinkPort + " (pid " + sink.pid() + ")");
    }

    private void startOnions(Pki pki) throws Exception {
        long started = System.nanoTime();
        for (String config : options.configs) {
            for (boolean compare : options.compare() ? List.of(false, true) : List.of(false)) {
                String[] parts = config.split("/");
                Path jar = compare && options.compareJar != null ? options.compareJar : options.jar;
                List<String> jvmArgs = new ArrayList<>(options.jvmArgs);
                if (compare) {
                    jvmArgs.addAll(options.compareJvmArgs);
                }
                String dir = parts[0] + "-" + parts[1] + (compare ? "-compare" : "");
                Path java = options.relayJava(compare);
                RelayService entry = RelayService.start(
                        java, jar, work.resolve(dir + "-entry"), dir + " entry", parts[0], parts[1], jvmArgs);
                RelayService exit = RelayService.start(
                        java, jar, work.resolve(dir + "-exit"), dir + " exit", parts[0], parts[1], jvmArgs);
                Contender.Onion onion =
                        new Contender.Onion(parts[0], parts[1], compare ? " [compare]" : "", entry, exit);
                onions.add(onion);
                toClose.add(onion);
            }
        }
        for (Contender.Onion onion : onions) {
            onion.entry.awaitReady(Duration.ofSeconds(600));
            onion.exit.awaitReady(Duration.ofSeconds(600));
            // The service allows at most 10,000 tunnels per relay (onion.limits.max-tunnels-per-relay).
            int maxTunnels = Math.min(10_000, Math.max(1024, options.idleTunnels + 64));
            onion.configure(pki, options.maxDepth(), sinkPort, maxTunnels);
        }
        say(String.format(Locale.ROOT, "onion-relay: %d configurations up (2 processes each) in %.1f s",
                onions.size(), (System.nanoTime() - started) / 1e9));
    }

    private void startPlainRelays() throws Exception {
        if (options.plainRelay == null) {
            say("plaintext floor: skipped (no --plain-relay; bench/run compiles bench/floor/plain-relay.c with cc)");
            return;
        }
        plain = Contender.PlainRelays.start(options.plainRelay, work.resolve("plain"), sinkPort);
        toClose.add(plain);
        say("plaintext floor: two plain C relays in front of the sink (" + options.plainRelay + ")");
    }

    private void startStunnel(Pki pki) throws Exception {
        stunnel = new Contender.Stunnel();
        toClose.add(stunnel);
        for (int depth = 1; depth <= options.maxDepth(); depth++) {
            stunnel.chains.put(depth, StunnelChain.full(pki, work.resolve("stunnel-" + depth), depth, sinkPort));
        }
        say("stunnel: chains for depth 1-" + options.maxDepth() + " up (" + StunnelChain.binary() + ", "
                + options.maxDepth() * (options.maxDepth() + 1) + " processes)");
    }

    /**
     * Proves both contenders build the same onion: onion-relay's entry against stunnel's exits, and stunnel's entries
     * against onion-relay's exit, at depth 2, with a checked transfer each way round.
     */
    private void crossCheck(Pki pki) throws Exception {
        if (onions.isEmpty() || options.maxDepth() < 2) {
            return;
        }
        Contender.Onion onion = onions.get(0);
        Load.Payload payload = new Load.Payload(11);
        try (StunnelChain exits = StunnelChain.servers(pki, work.resolve("cross-exits"), 2, sinkPort);
                StunnelChain entries = StunnelChain.clients(
                        pki, work.resolve("cross-entries"), 2, onion.exitPort(2))) {
            int onionEntry = onion.entryTo("cross-entry-2", 2, exits.entryPort());
            Load.throughput(onionEntry, payload, 4, 1);
            Load.throughput(entries.entryPort(), payload, 4, 1);
        }
        say("layer order cross-check at depth 2: onion-relay entry -> stunnel exits, and stunnel entries -> "
                + "onion-relay exit: 4 MiB each, SHA-256 match");
        report.note("Layer order cross-check (depth 2): onion-relay entry -> stunnel exits and stunnel entries -> "
                + "onion-relay exit both carried 4 MiB with matching SHA-256; each layer checks its own host name.");
    }

    /**
     * Traffic through every contender before anything is measured, so that measured runs see compiled code, not the
     * interpreter: bulk transfers at each depth, alternating with bursts of tunnel set-ups at depths 1-3 (the set-up
     * path takes thousands of handshakes to compile). stunnel gets the same.
     */
    private void warmUp(Load.Payload payload) throws Exception {
        if (options.warmup <= 0) {
            return;
        }
        long started = System.nanoTime();
        List<Contender> all = new ArrayList<>(onions);
        all.add(stunnel);
        List<String> extended = new ArrayList<>();
        for (Contender c : all) {
            List<Long> pids = new ArrayList<>();
            for (int depth = 0; depth <= options.maxDepth(); depth++) {
                if (c.supports(depth)) {
                    c.pids(depth).stream().filter(pid -> !pids.contains(pid)).forEach(pids::add);
                }
            }
            long began = System.nanoTime();
            long until = began + (long) (options.warmup * 1e9);
            // The relays' JIT needs about 45 s of this traffic to settle here; stunnel has nothing to compile.
            long limit = began + (long) (Math.max(3 * options.warmup, 60) * 1e9);
            int round = 0;
            while (System.nanoTime() < until) {
                warmUpRound(c, payload, round++);
            }
            // Then on until the JIT has settled: a cycle through every depth in which the compiler threads used
            // under 5% of a core.
            while (System.nanoTime() < limit) {
                double compilerBefore = Cpu.compilerSeconds(pids);
                long roundStart = System.nanoTime();
                for (int depth = 0; depth <= options.maxDepth(); depth++) {
                    warmUpRound(c, payload, round++);
                }
                double share = (Cpu.compilerSeconds(pids) - compilerBefore) / ((System.nanoTime() - roundStart) / 1e9);
                if (share < 0.05) {
                    break;
                }
            }
            double took = (System.nanoTime() - began) / 1e9;
            if (took > options.warmup + 1) {
                extended.add(String.format(Locale.ROOT, "%s %.0f s", c.label, took));
            }
        }
        say(String.format(Locale.ROOT, "warm-up: %.0f s of traffic through each contender, longer until the JIT "
                        + "compilers were idle%s (%.0f s)", options.warmup,
                extended.isEmpty() ? "" : " (" + String.join(", ", extended) + ")",
                (System.nanoTime() - started) / 1e9));
    }

    /** One round of warm-up traffic: a bulk transfer at one depth and a burst of set-ups at another. */
    private void warmUpRound(Contender c, Load.Payload payload, int round) throws Exception {
        int depth = round % (options.maxDepth() + 1);
        if (c.supports(depth)) {
            Load.throughput(c.port(depth), payload, 16, 1);
        }
        int setupDepth = 1 + round % Math.min(3, options.maxDepth());
        if (c.supports(setupDepth)) {
            Load.setupRate(c.port(setupDepth), options.setupConcurrency, Duration.ZERO, Duration.ofMillis(400));
        }
    }

    private List<Contender> contenders(int depth) {
        List<Contender> all = new ArrayList<>();
        all.addAll(onions);
        all.add(stunnel);
        if (depth == 0) {
            all.add(direct);
            if (plain != null) {
                all.add(plain);
            }
        }
        return all.stream().filter(c -> c.supports(depth)).toList();
    }

    /** A contender's best figure over the runs, and the least relay CPU it needed for one unit of work. */
    record Measured(double best, double cpu) {
        Measured merge(Measured other) {
            return new Measured(Math.max(best, other.best), Math.min(cpu, other.cpu));
        }
    }

    private void throughput(Load.Payload payload) throws Exception {
        say("throughput: " + options.streams + " stream(s), ~" + options.seconds + " s per run, best of "
                + options.runs);
        Map<Integer, Map<String, Measured>> results = new LinkedHashMap<>();
        for (int depth = 0; depth <= options.maxDepth(); depth++) {
            List<Contender> here = contenders(depth);
            Map<Contender, Long> blocks = new LinkedHashMap<>();
            for (Contender c : here) {
                Load.throughput(c.port(depth), payload, 16, options.streams);
                Load.Throughput calibration = Load.throughput(c.port(depth), payload, 64, options.streams);
                blocks.put(c, blocksFor(calibration.megabytesPerSecond()));
            }
            Map<String, Measured> best = new LinkedHashMap<>();
            for (int run = 0; run < options.runs; run++) {
                for (int i = 0; i < here.size(); i++) {
                    Contender c = here.get((i + run) % here.size());
                    List<Long> pids = c.pids(depth);
                    double cpuBefore = Cpu.seconds(pids);
                    Load.Throughput t = Load.throughput(c.port(depth), payload, blocks.get(c), options.streams);
                    double cpuPerGigabyte = (Cpu.seconds(pids) - cpuBefore) / (t.bytes() / 1e9);
                    best.merge(c.label, new Measured(t.megabytesPerSecond(), cpuPerGigabyte), Measured::merge);
                }
            }
            results.put(depth, best);
            say("  depth " + depth + ": " + format(best, "MB/s", "CPU s/GB"));
        }
        report.throughput(results, onions, stunnel, direct, plain, options);
    }

    /** MiB per stream for a run of about the configured length: a power of two, so digests can be shared. */
    private long blocksFor(double megabytesPerSecond) {
        double mib = megabytesPerSecond * 1e6 / Load.BLOCK * options.seconds / options.streams;
        long blocks = Long.highestOneBit(Math.max(1, (long) (mib * 1.4)));
        return Math.max(16, Math.min(8192, blocks));
    }

    private void setup() throws Exception {
        say("set-up rate: " + options.setupConcurrency + " concurrent clients, ~" + options.seconds
                + " s per run, best of " + options.runs);
        Map<Integer, Map<String, Measured>> results = new LinkedHashMap<>();
        Map<Integer, Map<String, Long>> failures = new LinkedHashMap<>();
        for (int depth = 1; depth <= Math.min(3, options.maxDepth()); depth++) {
            List<Contender> here = contenders(depth);
            Map<String, Measured> best = new LinkedHashMap<>();
            Map<String, Long> failed = new LinkedHashMap<>();
            for (int run = 0; run < options.runs; run++) {
                for (int i = 0; i < here.size(); i++) {
                    Contender c = here.get((i + run) % here.size());
                    List<Long> pids = c.pids(depth);
                    double cpuBefore = Cpu.seconds(pids);
                    Load.SetupRate r = Load.setupRate(c.port(depth), options.setupConcurrency,
                            Duration.ofMillis(500), Duration.ofMillis((long) (options.seconds * 1000)));
                    double cpuPerTunnel = (Cpu.seconds(pids) - cpuBefore) * 1000 / Math.max(1, r.all());
                    best.merge(c.label, new Measured(r.perSecond(), cpuPerTunnel), Measured::merge);
                    failed.merge(c.label, r.failures(), Long::sum);
                    // Let closing tunnels finish before the next contender is measured.
                    Thread.sleep(300);
                }
            }
            results.put(depth, best);
            failures.put(depth, failed);
            say("  depth " + depth + ": " + format(best, "tunnels/s", "CPU ms/tunnel"));
        }
        report.setup(results, failures, onions, stunnel);
    }

    /** Issue 26: set-up CPU with and without {@code allow} on every layer, same processes, runs alternating. */
    private void allowCost() throws Exception {
        say("allow: set-up CPU with and without a five-entry allow list + CEL expression on every layer, "
                + options.setupConcurrency + " concurrent clients, ~" + options.seconds + " s per run, " + options.runs
                + " runs each, alternating");
        List<AllowCost.Result> results = new ArrayList<>();
        for (Contender.Onion onion : onions) {
            for (AllowCost.Pairs pairs : AllowCost.configure(onion, Math.min(2, options.maxDepth()), sinkPort)) {
                AllowCost.Result r = AllowCost.measure(onion, pairs, options);
                results.add(r);
                say("  " + AllowCost.format(r));
            }
        }
        report.allowCost(results, onions);
    }

    /**
     * Issue 27: what {@code padding: "on"} on the outer layer costs against the same onion without, in the same
     * processes (bytes on the wire, set-up round trips, set-up and bulk CPU), for the judged configurations.
     */
    private void shapingCost(Load.Payload payload) throws Exception {
        say("shaping: padding on/off on the outer layer at depth 1-" + Math.min(2, options.maxDepth()) + "; "
                + options.shapingTunnels + " tunnels of each for a 1 MiB echo's bytes and for set-up round trips ("
                + options.shapingDelayMillis + " ms each way on the entry-exit connection), " + options.runs
                + " set-up runs and " + options.shapingRuns + " bulk runs of " + options.shapingMib
                + " MiB each, alternating");
        List<ShapingCost.Result> results = new ArrayList<>();
        for (Contender.Onion onion : Report.judged(onions)) {
            for (ShapingCost.Twins twins : ShapingCost.configure(onion, Math.min(2, options.maxDepth()), sinkPort)) {
                toClose.add(twins.plain().tap());
                toClose.add(twins.shaped().tap());
                ShapingCost.Result r = ShapingCost.measure(onion, twins, options, payload);
                results.add(r);
                say("  " + ShapingCost.format(r));
            }
        }
        report.shapingCost(results, options);
    }

    private void latency(Load.Payload payload) throws Exception {
        int depth = Math.min(2, options.maxDepth());
        say("latency: 1 KiB ping-pong at depth " + depth + ", ~" + options.seconds + " s per run, best p50 of "
                + options.runs);
        Map<String, Load.Latency> best = new LinkedHashMap<>();
        Map<String, String> layers = new LinkedHashMap<>();
        for (int run = 0; run < options.runs; run++) {
            List<Contender> here = contenders(depth);
            for (int i = 0; i < here.size(); i++) {
                Contender c = here.get((i + run) % here.size());
                Load.Latency l = Load.pingPong(c.port(depth), payload, 1024, Duration.ofMillis(500),
                        Duration.ofMillis((long) (options.seconds * 1000)));
                best.merge(c.label, l, (a, b) -> a.p50Micros() <= b.p50Micros() ? a : b);
            }
        }
        for (Contender.Onion onion : onions) {
            // A tunnel held open just long enough to read its live layers from the API.
            try (SocketChannel held = Load.open(onion.port(depth))) {
                Load.writeFully(held, Load.header(Wire.ECHO, 0));
                Load.writeFully(held, java.nio.ByteBuffer.wrap(new byte[] {1}));
                Load.readFully(held, java.nio.ByteBuffer.allocate(1));
                layers.put(onion.label, onion.layers(depth));
            }
        }
        for (Map.Entry<String, Load.Latency> e : best.entrySet()) {
            say(String.format(Locale.ROOT, "  %s: p50 %.0f us, p99 %.0f us (%d samples)", e.getKey(),
                    e.getValue().p50Micros(), e.getValue().p99Micros(), e.getValue().samples()));
        }
        layers.forEach((k, v) -> say("  " + k + " live layers: " + v));
        report.latency(depth, best, layers, onions, stunnel);
    }

    private void memory() throws Exception {
        int depth = Math.min(2, options.maxDepth());
        int count = options.idleTunnels;
        long limit = openFileLimit();
        if (2L * count + 512 > limit) {
            int fits = (int) ((limit - 512) / 2);
            report.note("Memory: asked for " + count + " idle tunnels, but a relay process holds two sockets per "
                    + "tunnel and RLIMIT_NOFILE here is " + limit + "; measured at " + fits + ".");
            say("memory: RLIMIT_NOFILE " + limit + " allows " + fits + " tunnels per relay process, not " + count);
            count = fits;
        }
        say("memory: " + count + " idle depth-" + depth + " tunnels per contender");
        Map<String, List<Contender.SideMemory[]>> results = new LinkedHashMap<>();
        Map<String, Integer> counts = new LinkedHashMap<>();
        Map<String, String> running = new LinkedHashMap<>();
        List<Contender> here = new ArrayList<>(onions);
        here.add(stunnel);
        for (Contender c : here) {
            List<Contender.SideMemory> before = c.memory(depth);
            long opening = System.nanoTime();
            Load.Idle idle = Load.openIdle(c.port(depth), count, 32);
            int held = idle.channels().size();
            double openSeconds = (System.nanoTime() - opening) / 1e9;
            List<Contender.SideMemory> after;
            try {
                if (idle.failure() != null) {
                    String why = c.label + " could hold only " + held + " of " + count + " idle depth-" + depth
                            + " tunnels: " + idle.failure() + " (see its logs in " + work + ")";
                    say("  " + why);
                    report.note(why);
                }
                Thread.sleep(1000);
                String verified = held > 0 ? c.verifyRunning(depth, held) : "";
                after = c.memory(depth);
                if (!verified.isEmpty()) {
                    running.put(c.label, verified);
                }
            } finally {
                Load.closeAll(idle.channels());
            }
            // Let the relays wind the tunnels down, then measure again without them: the baseline is the lesser of
            // the two, since what the earlier phases left behind (session caches, buffers) may be freed meanwhile.
            Thread.sleep(3000);
            List<Contender.SideMemory> released = c.memory(depth);
            List<Contender.SideMemory[]> pairs = new ArrayList<>();
            for (int i = 0; i < before.size(); i++) {
                pairs.add(new Contender.SideMemory[] {Contender.SideMemory.least(before.get(i), released.get(i)),
                    after.get(i)});
            }
            if (held > 0) {
                results.put(c.label, pairs);
                counts.put(c.label, held);
            }
            say(String.format(Locale.ROOT, "  %s: %d tunnels opened in %.1f s; %s", c.label, held, openSeconds,
                    held > 0 ? Report.perTunnel(pairs, held) : "nothing to measure"));
            if (running.containsKey(c.label)) {
                say("    running: " + running.get(c.label));
            }
        }
        report.memory(depth, count, counts, results, running);
    }

    /**
     * Memory per slow-reading depth-2 tunnel (issue 22): fresh entry and exit processes per judged configuration, so
     * that no pooled memory from earlier phases hides what the tunnels cost; {@code --slow-tunnels} clients write into
     * echo tunnels and read nothing until every buffer on the way is full; then the relays' memory is compared with
     * the figures taken before, and every echo is read back and checked.
     */
    private void slowReaders(Pki pki) throws Exception {
        int depth = 2;
        int count = options.slowTunnels;
        say("slow readers: " + count + " depth-" + depth + " echo tunnels whose clients write and never read, "
                + "fresh relay processes");
        Map<String, List<Contender.SideMemory[]>> results = new LinkedHashMap<>();
        Map<String, Long> filled = new LinkedHashMap<>();
        for (Contender.Onion judged : onions.subList(0, options.compare() ? 2 : 1)) {
            boolean compare = judged.label.endsWith("[compare]");
            String dir = "slow-" + judged.provider + "-" + judged.transport + (compare ? "-compare" : "");
            // A heap resident from the start: the heap's growth during the fill (the default G1 heap grows under the
            // allocation of a busy relay) would otherwise count as the tunnels' cost. Live heap is measured apart.
            List<String> jvmArgs = new ArrayList<>(List.of("-Xms512m", "-Xmx512m", "-XX:+AlwaysPreTouch"));
            jvmArgs.addAll(options.jvmArgs);
            if (compare) {
                jvmArgs.addAll(options.compareJvmArgs);
            }
            Path jar = compare && options.compareJar != null ? options.compareJar : options.jar;
            RelayService entry = RelayService.start(options.relayJava(compare), jar, work.resolve(dir + "-entry"),
                    dir + " entry", judged.provider, judged.transport, jvmArgs);
            RelayService exit = RelayService.start(options.relayJava(compare), jar, work.resolve(dir + "-exit"),
                    dir + " exit", judged.provider, judged.transport, jvmArgs);
            try (Contender.Onion onion = new Contender.Onion(judged.provider, judged.transport, "", entry, exit)) {
                entry.awaitReady(Duration.ofSeconds(600));
                exit.awaitReady(Duration.ofSeconds(600));
                onion.configure(pki, depth, sinkPort, Math.max(1024, count + 64));
                // Every path once (handshakes, a checked transfer), so that the baseline includes what any first
                // tunnel sets up once per process (classes, TLS contexts, the allocator's first chunks).
                Load.throughput(onion.port(depth), new Load.Payload(3), 4, 2);
                Thread.sleep(1000);
                List<Contender.SideMemory> before = onion.memory(depth);
                try (SlowReaders slow = SlowReaders.open(onion.port(depth), count)) {
                    long bytes = slow.fill(Duration.ofSeconds(3), Duration.ofSeconds(90));
                    Thread.sleep(1000);
                    onion.verifyRunning(depth, slow.count());
                    List<Contender.SideMemory> after = onion.memory(depth);
                    List<Contender.SideMemory[]> pairs = new ArrayList<>();
                    for (int i = 0; i < before.size(); i++) {
                        pairs.add(new Contender.SideMemory[] {before.get(i), after.get(i)});
                    }
                    say(String.format(Locale.ROOT, "  %s: %.1f MiB written per tunnel before every buffer was "
                                    + "full; %s", judged.label, bytes / slow.count() / 1048576.0,
                            Report.perTunnel(pairs, slow.count())));
                    long reading = System.nanoTime();
                    slow.verifyEcho(Load.STALL);
                    say(String.format(Locale.ROOT, "  every echo read back and checked in %.1f s",
                            (System.nanoTime() - reading) / 1e9));
                    results.put(judged.label, pairs);
                    filled.put(judged.label, bytes / slow.count());
                }
            }
        }
        report.slowReaders(depth, count, results, filled);
    }

    private static long openFileLimit() throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/self/limits"))) {
            if (line.startsWith("Max open files")) {
                String[] f = line.trim().split("\\s+");
                return Long.parseLong(f[3]);
            }
        }
        return 1024;
    }

    private static String format(Map<String, Measured> values, String unit, String cpuUnit) {
        StringBuilder out = new StringBuilder();
        values.forEach((k, v) -> out.append(out.length() > 0 ? "; " : "")
                .append(k).append(' ').append(String.format(Locale.ROOT, "%.0f %s", v.best(), unit))
                .append(Double.isFinite(v.cpu()) && v.cpu() > 0
                        ? String.format(Locale.ROOT, " (%.2f %s)", v.cpu(), cpuUnit) : ""));
        return out.toString();
    }

    static void say(String line) {
        System.out.println("[" + Instant.now().truncatedTo(ChronoUnit.SECONDS) + "] " + line);
        System.out.flush();
    }

    private void shutdown() {
        for (AutoCloseable c : toClose) {
            try {
                c.close();
            } catch (Exception e) {
                System.err.println("closing: " + e);
            }
        }
        if (sink != null) {
            sink.destroy();
            try {
                sink.waitFor(5, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }
}
