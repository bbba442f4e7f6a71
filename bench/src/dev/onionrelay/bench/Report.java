package dev.onionrelay.bench;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/** The benchmark's tables, as aligned text for the terminal and as Markdown for {@code docs/BENCHMARKS.md}. */
final class Report {

    /** A titled table, or a paragraph when it has no columns. */
    private record Section(String title, List<String> columns, List<List<String>> rows, List<String> notes) {}

    private final List<Section> sections = new ArrayList<>();
    private final List<String> notes = new ArrayList<>();
    private final List<String> targets = new ArrayList<>();
    private Section ceilingSection;
    private String header = "";
    private String footer = "";

    void header(Options options, Instant began) {
        header = String.join("\n",
                "onion-relay benchmark, " + began.truncatedTo(ChronoUnit.SECONDS),
                "machine: " + command("nproc").trim() + " cores (nproc), " + cpuModel() + ", Linux "
                        + command("uname", "-r").trim() + ", load average at start "
                        + loadAverage(),
                "software: Java " + System.getProperty("java.version") + ", " + firstLine(command(
                        StunnelChain.binary(), "-version")) + ", " + firstLine(command("openssl", "version")),
                "options: configs " + options.configs + ", " + options.seconds + " s per run, best of " + options.runs
                        + ", " + options.streams + " stream(s), set-up concurrency " + options.setupConcurrency
                        + ", warm-up " + options.warmup + " s per contender"
                        + (options.compareJar != null ? ", [compare] = " + options.compareJar : "")
                        + (options.compareJvmArgs.isEmpty() ? "" : ", [compare] JVM options " + options.compareJvmArgs)
                        + (options.jvmArgs.isEmpty() ? "" : ", relay JVM options " + options.jvmArgs)
                        + ", " + options.keyType + " keys, TLS 1.3 TLS_AES_128_GCM_SHA256 on every layer");
    }

    void note(String note) {
        notes.add(note);
    }

    void footer(Duration took) {
        footer = "whole run: " + took.toSeconds() + " s; load average at end " + loadAverage();
    }

    void throughput(Map<Integer, Map<String, Bench.Measured>> results, List<Contender.Onion> onions,
            Contender.Stunnel stunnel, Contender.Direct direct, Contender.PlainRelays plain, Options options) {
        List<String> sectionNotes = new ArrayList<>();
        List<List<String>> rows = comparison(results, onions, stunnel, Bench.Measured::best);
        Map<String, Bench.Measured> zero = results.get(0);
        if (zero != null && zero.containsKey(direct.label)) {
            sectionNotes.add(String.format(Locale.ROOT,
                    "Depth 0 has no stunnel equivalent (stunnel always terminates TLS on one side). The load "
                            + "generator straight into the sink (no relay) ran at %.0f MB/s: the ceiling of the "
                            + "harness on this machine; the sink and the load generator together used %.2f CPU s/GB.",
                    zero.get(direct.label).best(), zero.get(direct.label).cpu()));
        }
        if (zero != null && plain != null && zero.containsKey(plain.label)) {
            sectionNotes.add(String.format(Locale.ROOT,
                    "The plaintext floor: two plain C relays (bench/floor/plain-relay.c: read into 64 KiB, write, "
                            + "nothing else) on the same three hops carried %.0f MB/s for %.2f CPU s/GB.",
                    zero.get(plain.label).best(), zero.get(plain.label).cpu()));
        }
        Map<Integer, Double> ceilings = ceilings(results, onions, stunnel, direct, plain);
        results.forEach((depth, values) -> {
            if (depth == 1 || depth == 2) {
                // Bytes per relay CPU second, against the stunnel chain's in the same run: CPU ratios hold under load
                // from elsewhere, where MB/s on two shared cores is bounded by the harness.
                double wanted = depth == 2 ? 2.0 : 1.5;
                Bench.Measured base = values.get(stunnel.label);
                String ceiling = ceilings.containsKey(depth)
                        ? String.format(Locale.ROOT, "; ceiling on this machine %.2fx", ceilings.get(depth))
                        : "";
                for (Contender.Onion onion : judged(onions)) {
                    Bench.Measured v = values.get(onion.label);
                    targets.add(target(String.format(Locale.ROOT,
                                    "depth-%d bytes per relay CPU second >= %.1fx stunnel chain's", depth, wanted),
                            onion, v != null && base != null ? base.cpu() / v.cpu() : null, wanted, true)
                            + (v != null && base != null ? String.format(Locale.ROOT,
                                    " (%.2f vs %.2f CPU s/GB; wall clock %.0f vs %.0f MB/s%s)",
                                    v.cpu(), base.cpu(), v.best(), base.best(), ceiling) : ""));
                }
            }
        });
        sections.add(new Section(
                "Throughput, MB/s (10^6 bytes/s) through entry (wraps N) -> exit (peels N) -> sink, "
                        + options.streams + " stream(s); every run's byte count and SHA-256 checked",
                columns(onions, "MB/s"), rows, sectionNotes));
        sections.add(new Section(
                "Relay CPU per GB carried, CPU seconds (user+sys of the relay processes; lower is better; ratio = "
                        + "stunnel / onion-relay, so above 1 means onion-relay is more efficient)",
                columns(onions, "CPU s/GB"), comparisonInverse(results, onions, stunnel), List.of(
                        "CPU per byte depends much less than MB/s on the CPU share other processes leave; on an "
                                + "idle 2-core machine, where both contenders are CPU-bound, the throughput ratio "
                                + "should approach this ratio.")));
        if (ceilingSection != null) {
            sections.add(ceilingSection);
        }
    }

    /**
     * The throughput ratio onion-relay could reach at each depth if its layers cost no CPU at all. With one stream,
     * relays, load generator and sink are all CPU-bound on the same cores, so a contender's throughput is close to
     * cores / (its relays' CPU per GB + the harness's CPU per GB); the model check rows compare that prediction with
     * what was measured. onion-relay cannot relay for less than its depth-0 cost (two processes copying every byte
     * in and out of the kernel on three loopback hops), so (stunnel + harness) / (onion-relay depth 0 + harness)
     * bounds the ratio any engine change can give on this machine.
     */
    private Map<Integer, Double> ceilings(Map<Integer, Map<String, Bench.Measured>> results,
            List<Contender.Onion> onions, Contender.Stunnel stunnel, Contender.Direct direct,
            Contender.PlainRelays plain) {
        Map<Integer, Double> ceilings = new TreeMap<>();
        Map<String, Bench.Measured> zero = results.get(0);
        if (zero == null || !zero.containsKey(direct.label)) {
            return ceilings;
        }
        double harness = zero.get(direct.label).cpu();
        double floor = Double.MAX_VALUE;
        List<Contender> relaysAtDepthZero = new ArrayList<>(onions);
        if (plain != null) {
            relaysAtDepthZero.add(plain);
        }
        for (Contender relay : relaysAtDepthZero) {
            Bench.Measured m = zero.get(relay.label);
            if (m != null) {
                floor = Math.min(floor, m.cpu());
            }
        }
        if (floor == Double.MAX_VALUE) {
            return ceilings;
        }
        int cores = Runtime.getRuntime().availableProcessors();
        List<List<String>> rows = new ArrayList<>();
        for (Map.Entry<Integer, Map<String, Bench.Measured>> e : results.entrySet()) {
            Bench.Measured chain = e.getValue().get(stunnel.label);
            if (chain == null) {
                continue;
            }
            double ceiling = (chain.cpu() + harness) / (floor + harness);
            ceilings.put(e.getKey(), ceiling);
            Bench.Measured first = onions.isEmpty() ? null : e.getValue().get(onions.get(0).label);
            rows.add(List.of(
                    Integer.toString(e.getKey()),
                    number(chain.cpu()),
                    number(floor),
                    number(harness),
                    String.format(Locale.ROOT, "%.2fx", ceiling),
                    String.format(Locale.ROOT, "%.2fx", chain.cpu() / floor),
                    e.getKey() == 1 ? "1.5x" : e.getKey() == 2 ? "2.0x" : "-",
                    number(chain.best()) + " / " + number(predicted(cores, chain.cpu(), harness)),
                    first == null ? "-" : number(first.best()) + " / " + number(predicted(cores, first.cpu(), harness))));
        }
        ceilingSection = new Section(
                "Ceiling: the throughput ratio onion-relay would reach if its TLS layers cost no CPU at all",
                List.of(
                        "depth",
                        "stunnel-chain CPU s/GB",
                        "depth-0 floor CPU s/GB",
                        "harness CPU s/GB",
                        "ceiling",
                        "bytes per CPU s ceiling",
                        "bytes per CPU s target",
                        "stunnel MB/s measured / model",
                        (onions.isEmpty() ? "onion-relay" : shortLabel(onions.get(0))) + " MB/s measured / model"),
                rows,
                List.of(
                        "ceiling = (stunnel chain + harness) / (depth-0 floor + harness), CPU s/GB, where the floor "
                                + "is the cheapest two-process relay of plaintext measured at depth 0 (onion-relay "
                                + "without layers, or the plain C relays): the kernel copies of three loopback hops, "
                                + "below which no relay and no TLS engine can go. With one stream every process is "
                                + "CPU-bound on the same " + cores + " cores, so throughput is close to the model "
                                + "cores / (relays + harness) per GB (the last two columns). A target above the "
                                + "ceiling cannot be met on this machine. The bytes per CPU second ceiling, stunnel chain / floor in "
                                + "CPU s/GB, bounds the ratio the targets judge in the same way."));
        return ceilings;
    }

    private static double predicted(int cores, double relayCpu, double harnessCpu) {
        return cores * 1000.0 / (relayCpu + harnessCpu);
    }

    void setup(Map<Integer, Map<String, Bench.Measured>> results, Map<Integer, Map<String, Long>> failures,
            List<Contender.Onion> onions, Contender.Stunnel stunnel) {
        List<String> sectionNotes = new ArrayList<>();
        failures.forEach((depth, byLabel) -> byLabel.forEach((label, failed) -> {
            if (failed > 0) {
                sectionNotes.add(label + " at depth " + depth + ": " + failed
                        + " connection attempts failed during the measured runs.");
            }
        }));
        results.forEach((depth, values) -> {
            // Relay CPU per tunnel set up, at most the stunnel chain's at depth 1 and 0.6x at depth 2 and 3.
            double wanted = depth == 1 ? 1.0 : 0.6;
            Bench.Measured base = values.get(stunnel.label);
            for (Contender.Onion onion : judged(onions)) {
                Bench.Measured v = values.get(onion.label);
                targets.add(target(String.format(Locale.ROOT,
                                "depth-%d relay CPU per tunnel set up <= %.1fx stunnel chain's", depth, wanted),
                        onion, v != null && base != null ? v.cpu() / base.cpu() : null, wanted, false)
                        + (v != null && base != null ? String.format(Locale.ROOT,
                                " (%.2f vs %.2f CPU ms; wall clock %.0f vs %.0f tunnels/s)",
                                v.cpu(), base.cpu(), v.best(), base.best()) : ""));
            }
        });
        sections.add(new Section(
                "Tunnel set-up rate, tunnels/s: connect, all handshakes, 64-byte echo checked, close",
                columns(onions, "tunnels/s"), comparison(results, onions, stunnel, Bench.Measured::best),
                sectionNotes));
        sections.add(new Section(
                "Relay CPU per tunnel set up, CPU milliseconds (ratio = stunnel / onion-relay)",
                columns(onions, "CPU ms"), comparisonInverse(results, onions, stunnel), List.of()));
    }

    void allowCost(List<AllowCost.Result> results, List<Contender.Onion> onions) {
        List<List<String>> rows = new ArrayList<>();
        List<String> sectionNotes = new ArrayList<>();
        List<Contender.Onion> judged = judged(onions);
        for (AllowCost.Result r : results) {
            StringBuilder runs = new StringBuilder();
            for (double ratio : r.runRatios()) {
                runs.append(runs.length() > 0 ? " " : "").append(String.format(Locale.ROOT, "%.2f", ratio));
            }
            rows.add(List.of(r.onion().label, Integer.toString(r.depth()),
                    String.format(Locale.ROOT, "%.2f", r.least(r.without())),
                    String.format(Locale.ROOT, "%.2f", r.least(r.with())),
                    String.format(Locale.ROOT, "%.2f", r.ratio()), runs.toString()));
            sectionNotes.add(r.onion().label + " depth " + r.depth() + " (relays on " + r.java() + "), TLS engine per layer with allow: "
                    + r.engines() + (r.failures() > 0 ? "; " + r.failures() + " connection attempts failed" : ""));
            if (judged.contains(r.onion())) {
                targets.add(String.format(Locale.ROOT, "%s  issue 26: depth-%d relay CPU per tunnel set up with allow"
                                + " <= %.2fx without: %s %.2fx (%.2f vs %.2f CPU ms; run by run %s)",
                        r.ratio() <= AllowCost.WANTED ? "PASS" : "FAIL", r.depth(), AllowCost.WANTED,
                        r.onion().label, r.ratio(), r.least(r.with()), r.least(r.without()), runs));
            }
        }
        sectionNotes.add("Both pairs use mutual TLS on every layer; with allow, every layer of both sides also checks "
                + "a five-entry list (CN, OU, URI, CIDR, DNS wildcard: only the last matches) and a CEL expression. "
                + "Least CPU over the runs; run by run: each run with allow against the run without next to it.");
        sections.add(new Section(
                "Set-up cost of allow (issue 26): relay CPU ms per tunnel, entry + exit, mutual TLS without and with",
                List.of("contender", "depth", "without allow", "with allow", "ratio", "run by run"), rows,
                sectionNotes));
    }

    /** Issue 27: three tables (bytes, set-up, bulk CPU) of padding on the outer layer against the same onion off. */
    void shapingCost(List<ShapingCost.Result> results, Options options) {
        List<List<String>> bytes = new ArrayList<>();
        List<List<String>> setup = new ArrayList<>();
        List<List<String>> bulk = new ArrayList<>();
        List<String> layerNotes = new ArrayList<>();
        for (ShapingCost.Result r : results) {
            String label = r.onion().label;
            String depth = Integer.toString(r.depth());
            double[] plain = ShapingCost.Result.mean(r.plainBytes());
            double[] shaped = ShapingCost.Result.mean(r.shapedBytes());
            bytes.add(List.of(label, depth, String.format(Locale.ROOT, "%.0f / %.0f", plain[0], plain[1]),
                    String.format(Locale.ROOT, "%.0f / %.0f", shaped[0], shaped[1]),
                    String.format(Locale.ROOT, "%.4fx", r.bytesRatio()),
                    String.format(Locale.ROOT, "%.4fx", r.worstBytesRatio()),
                    String.format(Locale.ROOT, "%.0f / %.0f", plain[3], plain[4]),
                    String.format(Locale.ROOT, "%.0f / %.0f", shaped[3], shaped[4])));
            setup.add(List.of(label, depth, String.format(Locale.ROOT, "%.0f", r.roundTripMillis()),
                    String.format(Locale.ROOT, "%.1f / %.1f", ShapingCost.median(r.plainSetupMillis()),
                            ShapingCost.median(r.shapedSetupMillis())),
                    String.format(Locale.ROOT, "%.2f / %.2f", r.plainRoundTrips(), r.shapedRoundTrips()),
                    String.format(Locale.ROOT, "%+.2f", r.extraRoundTrips()),
                    String.format(Locale.ROOT, "%.0f / %.0f", ShapingCost.median(r.plainFlights()),
                            ShapingCost.median(r.shapedFlights())),
                    String.format(Locale.ROOT, "%.2f / %.2f", ShapingCost.least(r.plainSetupCpu()),
                            ShapingCost.least(r.shapedSetupCpu())),
                    String.format(Locale.ROOT, "%.2fx", r.setupCpuRatio())));
            String runs = ShapingCost.ratios(r.bulkRunRatios());
            bulk.add(List.of(label, depth, String.format(Locale.ROOT, "%.3f", ShapingCost.least(r.plainBulkCpu())),
                    String.format(Locale.ROOT, "%.3f", ShapingCost.least(r.shapedBulkCpu())),
                    String.format(Locale.ROOT, "%.3fx", r.bulkCpuRatio()),
                    String.format(Locale.ROOT, "%.2fx", ShapingCost.median(r.bulkRunRatios())), runs));
            layerNotes.add(label + " depth " + r.depth() + " (relays on " + r.java() + "), shaped tunnel: "
                    + r.layers() + "; " + r.warmedUp());
            targets.add(String.format(Locale.ROOT, "%s  issue 27: depth-%d bytes on the wire for a 1 MiB echo, "
                            + "shaped <= %.2fx unshaped: %s worst tunnel %.4fx (mean %.4fx, %.0f vs %.0f bytes)",
                    r.worstBytesRatio() <= ShapingCost.BYTES_WANTED ? "PASS" : "FAIL", r.depth(),
                    ShapingCost.BYTES_WANTED, label, r.worstBytesRatio(), r.bytesRatio(), shaped[2], plain[2]));
            targets.add(String.format(Locale.ROOT, "%s  issue 27: depth-%d set-up, at most %.0f extra round trip: %s "
                            + "%+.2f (%.2f vs %.2f round trips of %.0f ms, medians)",
                    r.roundTripsMet() ? "PASS" : "FAIL", r.depth(), ShapingCost.EXTRA_ROUND_TRIPS_WANTED, label,
                    r.extraRoundTrips(), r.shapedRoundTrips(), r.plainRoundTrips(), r.roundTripMillis()));
            targets.add(String.format(Locale.ROOT, "%s  issue 27: depth-%d bulk relay CPU per GB, shaped <= %.2fx "
                            + "unshaped: %s %.3fx (%.3f vs %.3f s/GB; median run ratio %.2fx; run by run %s)",
                    r.bulkCpuRatio() <= ShapingCost.CPU_WANTED ? "PASS" : "FAIL", r.depth(),
                    ShapingCost.CPU_WANTED, label, r.bulkCpuRatio(), ShapingCost.least(r.shapedBulkCpu()),
                    ShapingCost.least(r.plainBulkCpu()), ShapingCost.median(r.bulkRunRatios()), runs));
        }
        List<String> bytesNotes = new ArrayList<>(List.of("Per tunnel through a counting forwarder between entry and "
                + "exit: 1 MiB written by the client and echoed back by the sink, from the entry's connect to the "
                + "close of both sides (handshakes, padding, teardown included); TCP payload bytes, mean of "
                + options.shapingTunnels + " tunnels each, alternating; the target judges the worst shaped tunnel "
                + "against the unshaped mean."));
        bytesNotes.addAll(layerNotes);
        sections.add(new Section("Cost of shaping (issue 27): bytes on the wire between entry and exit for a 1 MiB "
                        + "echo, padding off vs on on the outer layer",
                List.of("contender", "depth", "unshaped up / down", "shaped up / down", "ratio", "worst tunnel",
                        "TLS records off", "TLS records on"),
                bytes, bytesNotes));
        sections.add(new Section("Cost of shaping (issue 27): set-up, " + options.shapingDelayMillis
                        + " ms each way added on the entry-exit connection",
                List.of("contender", "depth", "round trip ms", "to first echo byte ms, off / on",
                        "round trips, off / on", "extra", "flights, off / on", "set-up CPU ms/tunnel, off / on",
                        "CPU ratio"),
                setup, List.of("Time from the client's connect to the first byte of its 64-byte echo, median of "
                        + options.shapingTunnels + " tunnels each, alternating, divided by the round trip the "
                        + "forwarder adds: the whole part counts round trips on the entry-exit connection, the "
                        + "fraction is CPU and loopback. Flights: changes of direction the forwarder saw before "
                        + "that byte (not judged: session tickets can add one without a round trip). Set-up CPU: "
                        + "relay CPU per tunnel as in the set-up phase, no delay, least of " + options.runs
                        + " runs each, alternating.")));
        sections.add(new Section("Cost of shaping (issue 27): relay CPU s/GB, " + options.shapingMib
                        + " MiB per run, entry + exit",
                List.of("contender", "depth", "padding off", "padding on", "ratio", "median run ratio", "run by run"), bulk,
                List.of("Least CPU over " + options.shapingRuns + " runs each, alternating (which goes first "
                        + "alternating too); the target judges the ratio of the least figures. Run by run: each "
                        + "shaped run over the unshaped run next to it; their median is less sensitive to one run "
                        + "that other load slowed, and is shown for that.")));
    }

    private static List<String> columns(List<Contender.Onion> onions, String unit) {
        List<String> columns = new ArrayList<>(List.of("depth"));
        for (int i = 0; i < onions.size(); i++) {
            columns.add(shortLabel(onions.get(i)) + " " + unit);
            if (i == 0) {
                columns.add("stunnel-chain " + unit);
            }
            columns.add("ratio");
        }
        if (onions.isEmpty()) {
            columns.add("stunnel-chain " + unit);
        }
        return columns;
    }

    /** Rows of depth, first onion, stunnel, ratio, then every other onion and its ratio; ratio = onion / stunnel. */
    private static List<List<String>> comparison(Map<Integer, Map<String, Bench.Measured>> results,
            List<Contender.Onion> onions, Contender.Stunnel stunnel,
            java.util.function.ToDoubleFunction<Bench.Measured> figure) {
        List<List<String>> rows = new ArrayList<>();
        results.forEach((depth, values) -> {
            List<String> row = new ArrayList<>(List.of(Integer.toString(depth)));
            Bench.Measured base = values.get(stunnel.label);
            Double baseFigure = base != null ? figure.applyAsDouble(base) : null;
            for (int i = 0; i < onions.size(); i++) {
                Bench.Measured v = values.get(onions.get(i).label);
                Double f = v != null ? figure.applyAsDouble(v) : null;
                row.add(number(f));
                if (i == 0) {
                    row.add(number(baseFigure));
                }
                row.add(ratio(f, baseFigure));
            }
            if (onions.isEmpty()) {
                row.add(number(baseFigure));
            }
            rows.add(row);
        });
        return rows;
    }

    /** The same for CPU figures, where less is better: ratio = stunnel / onion. */
    private static List<List<String>> comparisonInverse(Map<Integer, Map<String, Bench.Measured>> results,
            List<Contender.Onion> onions, Contender.Stunnel stunnel) {
        List<List<String>> rows = new ArrayList<>();
        results.forEach((depth, values) -> {
            List<String> row = new ArrayList<>(List.of(Integer.toString(depth)));
            Bench.Measured base = values.get(stunnel.label);
            Double baseCpu = base != null ? base.cpu() : null;
            for (int i = 0; i < onions.size(); i++) {
                Bench.Measured v = values.get(onions.get(i).label);
                Double cpu = v != null ? v.cpu() : null;
                row.add(number(cpu));
                if (i == 0) {
                    row.add(number(baseCpu));
                }
                row.add(ratio(baseCpu, cpu));
            }
            if (onions.isEmpty()) {
                row.add(number(baseCpu));
            }
            rows.add(row);
        });
        return rows;
    }

    void latency(int depth, Map<String, Load.Latency> results, Map<String, String> layers,
            List<Contender.Onion> onions, Contender.Stunnel stunnel) {
        List<List<String>> rows = new ArrayList<>();
        results.forEach((label, l) -> rows.add(List.of(
                label, number(l.p50Micros()), number(l.p99Micros()), Long.toString(l.samples()))));
        List<String> sectionNotes = new ArrayList<>();
        layers.forEach((label, live) -> sectionNotes.add(label + " live layers (from the API): " + live));
        sections.add(new Section(
                "Latency, 1 KiB ping-pong at depth " + depth + ", microseconds (every echo compared)",
                List.of("contender", "p50 us", "p99 us", "samples"), rows, sectionNotes));
    }

    void memory(int depth, int count, Map<String, Integer> counts, Map<String, List<Contender.SideMemory[]>> results,
            Map<String, String> running) {
        List<List<String>> rows = new ArrayList<>();
        results.forEach((label, pairs) -> {
            int held = counts.get(label);
            for (Contender.SideMemory[] pair : pairs) {
                Contender.SideMemory before = pair[0];
                Contender.SideMemory after = pair[1];
                boolean jvm = before.heap() >= 0;
                double heap = jvm ? kib(after.heap() - before.heap(), held) : Double.NaN;
                double direct = jvm && before.direct() >= 0 ? kib(after.direct() - before.direct(), held) : Double.NaN;
                double rss = kib(after.rss() - before.rss(), held);
                rows.add(List.of(label, Integer.toString(held), before.side(), before.processes(), number(heap),
                        number(direct), jvm ? number(heap + direct) : "-", number(rss)));
            }
        });
        List<String> sectionNotes = new ArrayList<>();
        sectionNotes.add("Heap: live heap after a full GC (jcmd GC.run; GC.heap_info). Direct: NMT \"Other\", "
                + "where Unsafe.allocateMemory (Netty's direct buffers) is counted. RSS: resident set, for "
                + "stunnel summed over the side's processes. All as (with the tunnels - baseline) / tunnels, the baseline being the lesser of the "
                + "figures before the tunnels were opened and after they were closed.");
        running.forEach((label, what) -> sectionNotes.add(label + ": " + what));
        for (Map.Entry<String, List<Contender.SideMemory[]>> e : results.entrySet()) {
            int held = counts.get(e.getKey());
            for (Contender.SideMemory[] pair : e.getValue()) {
                if (pair[0].heap() < 0) {
                    continue;
                }
                double total = kib(pair[1].heap() - pair[0].heap(), held)
                        + kib(pair[1].direct() - pair[0].direct(), held);
                targets.add((total <= 32 ? "PASS" : "FAIL") + String.format(Locale.ROOT,
                        "  memory per idle depth-2 tunnel <= 32 KiB heap+direct per relay process: %s %s %.1f KiB at %d tunnels",
                        e.getKey(), pair[0].side(), total, held));
            }
        }
        sections.add(new Section(
                "Memory per idle depth-" + depth + " tunnel, KiB, asked for " + count + " tunnels",
                List.of("contender", "tunnels", "side", "processes", "heap", "direct", "heap+direct", "RSS"),
                rows, sectionNotes));
    }

    /** Issue 22's bound: RSS a slow-reading depth-2 tunnel adds, entry and exit relay processes together. */
    static final double SLOW_READER_RSS_KIB = 600;

    void slowReaders(int depth, int count, Map<String, List<Contender.SideMemory[]>> results, Map<String, Long> filled) {
        List<List<String>> rows = new ArrayList<>();
        results.forEach((label, pairs) -> {
            double rssTotal = 0;
            for (Contender.SideMemory[] pair : pairs) {
                Contender.SideMemory before = pair[0];
                Contender.SideMemory after = pair[1];
                double heap = kib(after.heap() - before.heap(), count);
                double direct = kib(after.direct() - before.direct(), count);
                double rss = kib(after.rss() - before.rss(), count);
                rssTotal += rss;
                rows.add(List.of(label, before.side(), number(filled.get(label) / 1048576.0), number(heap),
                        number(direct), number(rss)));
            }
            rows.add(List.of(label, "entry + exit", "", "", "", number(rssTotal)));
            targets.add((rssTotal <= SLOW_READER_RSS_KIB ? "PASS" : "FAIL") + String.format(Locale.ROOT,
                    "  RSS per slow-reading depth-%d tunnel <= %.0f KiB (entry + exit processes): %s %.0f KiB at %d tunnels",
                    depth, SLOW_READER_RSS_KIB, label, rssTotal, count));
        });
        List<String> sectionNotes = List.of(
                "Fresh entry and exit processes; each client writes into an echo tunnel and reads nothing until no tunnel "
                        + "takes a byte for 3 s (every buffer on the way full, both directions); then each echo is read "
                        + "back and compared with what was written. Written: MiB per tunnel until then (mostly kernel "
                        + "socket buffers, which RSS does not count). Heap, direct (NMT \"Other\") and RSS: (with the "
                        + "tunnels - before them) / tunnels, per relay process; the baseline is taken after one checked "
                        + "transfer through fresh relays.");
        sections.add(new Section(
                "Slow readers: memory per stalled depth-" + depth + " tunnel, KiB, " + count + " tunnels",
                List.of("contender", "side", "written MiB", "heap", "direct", "RSS"), rows, sectionNotes));
    }

    private static double kib(long bytes, int count) {
        return bytes / 1024.0 / count;
    }

    /** The contenders the targets judge: the first configuration (the default), and its [compare] twin if any. */
    static List<Contender.Onion> judged(List<Contender.Onion> onions) {
        if (onions.isEmpty()) {
            return List.of();
        }
        Contender.Onion first = onions.get(0);
        return onions.stream()
                .filter(o -> o.provider.equals(first.provider) && o.transport.equals(first.transport))
                .toList();
    }

    /** One target line: PASS when {@code achieved} is at least (or, for a cost, at most) {@code wanted}. */
    private static String target(String what, Contender.Onion onion, Double achieved, double wanted, boolean atLeast) {
        if (achieved == null) {
            return "n/a   " + what + ": " + onion.label + " not measured";
        }
        boolean met = atLeast ? achieved >= wanted : achieved <= wanted;
        return String.format(Locale.ROOT, "%s  %s: %s %.2fx", met ? "PASS" : "FAIL", what, onion.label, achieved);
    }

    private static String shortLabel(Contender.Onion onion) {
        return onion.label;
    }

    String text() {
        StringBuilder out = new StringBuilder(header).append("\n\n");
        for (Section s : sections) {
            out.append(s.title()).append('\n');
            int[] widths = new int[s.columns().size()];
            for (int c = 0; c < widths.length; c++) {
                widths[c] = s.columns().get(c).length();
                for (List<String> row : s.rows()) {
                    widths[c] = Math.max(widths[c], row.get(c).length());
                }
            }
            out.append(line(s.columns(), widths)).append('\n');
            for (List<String> row : s.rows()) {
                out.append(line(row, widths)).append('\n');
            }
            for (String n : s.notes()) {
                out.append("  * ").append(n).append('\n');
            }
            out.append('\n');
        }
        if (!targets.isEmpty()) {
            out.append("Targets (default configuration; issue 16: CPU ratios against the stunnel chain in this run; issues 26, 27: as named)\n");
            targets.forEach(t -> out.append("  ").append(t).append('\n'));
            out.append('\n');
        }
        notes.forEach(n -> out.append("* ").append(n).append('\n'));
        return out.append(footer).append('\n').toString();
    }

    String markdown() {
        StringBuilder out = new StringBuilder();
        for (String h : header.split("\n")) {
            out.append(h).append("  \n");
        }
        out.append('\n');
        for (Section s : sections) {
            out.append("**").append(s.title()).append("**\n\n");
            out.append("| ").append(String.join(" | ", s.columns())).append(" |\n|");
            for (String c : s.columns()) {
                out.append(c.equals("depth") || c.equals("contender") || c.equals("side") || c.equals("processes")
                        ? " --- |" : " ---: |");
            }
            out.append('\n');
            for (List<String> row : s.rows()) {
                out.append("| ").append(String.join(" | ", row)).append(" |\n");
            }
            out.append('\n');
            for (String n : s.notes()) {
                out.append("- ").append(n).append('\n');
            }
            out.append('\n');
        }
        if (!targets.isEmpty()) {
            out.append("**Targets (default configuration; issue 16: CPU ratios against the stunnel chain in this run; issues 26, 27: as named)**\n\n");
            targets.forEach(t -> out.append("- ").append(t).append('\n'));
            out.append('\n');
        }
        notes.forEach(n -> out.append("- ").append(n).append('\n'));
        return out.append('\n').append(footer).append('\n').toString();
    }

    private static String line(List<String> cells, int[] widths) {
        StringBuilder out = new StringBuilder();
        for (int c = 0; c < cells.size(); c++) {
            String cell = cells.get(c);
            String pad = " ".repeat(widths[c] - cell.length());
            out.append(c == 0 ? cell + pad : "  " + pad + cell);
        }
        return out.toString();
    }

    static String perTunnel(List<Contender.SideMemory[]> pairs, int count) {
        StringBuilder out = new StringBuilder();
        for (Contender.SideMemory[] pair : pairs) {
            Contender.SideMemory b = pair[0];
            Contender.SideMemory a = pair[1];
            out.append(out.length() > 0 ? "; " : "").append(b.side()).append(':');
            if (b.heap() >= 0) {
                out.append(String.format(Locale.ROOT, " heap %.1f KiB, direct %.1f KiB,",
                        kib(a.heap() - b.heap(), count), kib(a.direct() - b.direct(), count)));
            }
            out.append(String.format(Locale.ROOT, " RSS %.1f KiB per tunnel", kib(a.rss() - b.rss(), count)));
        }
        return out.toString();
    }

    private static String number(Double v) {
        if (v == null || v.isNaN() || v.isInfinite()) {
            return "-";
        }
        if (v < 10) {
            return String.format(Locale.ROOT, "%.2f", v);
        }
        return v >= 100 ? String.format(Locale.ROOT, "%.0f", v) : String.format(Locale.ROOT, "%.1f", v);
    }

    private static String ratio(Double v, Double base) {
        if (v == null || base == null || base == 0 || v == 0) {
            return "-";
        }
        return String.format(Locale.ROOT, "%.2fx", v / base);
    }

    private static String loadAverage() {
        try {
            String[] f = Files.readString(Path.of("/proc/loadavg")).split(" ");
            return f[0] + " " + f[1] + " " + f[2];
        } catch (IOException e) {
            return "?";
        }
    }

    private static String cpuModel() {
        for (String line : command("lscpu").split("\n")) {
            if (line.startsWith("Model name:")) {
                return line.substring("Model name:".length()).trim();
            }
        }
        return "unknown CPU";
    }

    private static String firstLine(String text) {
        for (String line : text.split("\n")) {
            if (!line.isBlank() && !line.startsWith("Initializing")) {
                return line.trim();
            }
        }
        return "";
    }

    private static String command(String... command) {
        try {
            Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            p.waitFor();
            return out;
        } catch (IOException | InterruptedException e) {
            return "?";
        }
    }
}
