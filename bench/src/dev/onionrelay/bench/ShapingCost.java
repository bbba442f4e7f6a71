package dev.onionrelay.bench;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

/**
 * Issue 27, acceptance 3: what {@code padding: "on"} costs. Per onion-relay configuration, in the same two relay
 * processes, twin relay pairs at depth 1 and 2 that differ only in {@code padding} on their outer layer (both sides):
 * "on" in one, "off" in the other. Each exit has two entries in front of it: one straight, for the CPU figures, and one
 * through a {@link WireTap}, which counts the bytes on the entry-exit connection and can delay them.
 *
 * <ul>
 *   <li><b>Bytes</b>: a 1 MiB echo (1 MiB up, the same 1 MiB back) per tunnel through the tap, connect to close,
 *       handshakes and teardown included; shaped against unshaped tunnels in alternation. Target: the worst shaped
 *       tunnel at most 1.10x the unshaped mean.
 *   <li><b>Set-up round trips</b>: the tap holds every chunk {@code delay} each way, so each round trip on the
 *       entry-exit connection costs {@code 2 x delay} while everything else stays on loopback; the time from the
 *       client's connect to its first echoed byte, divided by that round trip, counts the round trips of the set-up
 *       (plus a fraction: the CPU of the handshakes). The median shaped minus the median unshaped is the extra. The
 *       tap also counts the flights (changes of direction) up to that first byte, for information: they are not
 *       judged, since asynchronous messages (session tickets) can add a flight without adding a round trip.
 *   <li><b>Set-up CPU</b>, for information: relay CPU per tunnel as in the set-up phase, runs alternating.
 *   <li><b>Bulk CPU</b>: {@code --shaping-mib} MiB per run through the straight entries, relay CPU per GB, runs
 *       alternating (which goes first alternating too), least of each; target ratio at most 1.10. Every run's ratio
 *       with its neighbour is kept for the scatter.
 * </ul>
 */
final class ShapingCost {

    static final double BYTES_WANTED = 1.10;
    static final double EXTRA_ROUND_TRIPS_WANTED = 1;
    static final double CPU_WANTED = 1.10;

    private static final int TRANSFER = 1 << 20;

    private ShapingCost() {}

    /** One entry-exit pair: the exit relay, its straight entry and its entry through the tap. */
    record Pair(String name, int direct, int tapped, WireTap tap) {}

    /** Twin pairs at one depth: unshaped and shaped on the outer layer. */
    record Twins(int depth, Pair plain, Pair shaped) {}

    /** Creates the twins of {@code onion} at depth 1 and 2; the taps are the caller's to close. */
    static List<Twins> configure(Contender.Onion onion, int maxDepth, int sinkPort)
            throws IOException, InterruptedException {
        List<Twins> twins = new ArrayList<>();
        for (int depth = 1; depth <= maxDepth; depth++) {
            twins.add(new Twins(depth, pair(onion, depth, sinkPort, false), pair(onion, depth, sinkPort, true)));
        }
        return twins;
    }

    private static Pair pair(Contender.Onion onion, int depth, int sinkPort, boolean shaped)
            throws IOException, InterruptedException {
        List<String> ingress = new ArrayList<>();
        List<String> egress = new ArrayList<>();
        for (int i = 1; i <= depth; i++) {
            // Outermost first: layer 1 is the one on the wire between the relays.
            String padding = ",\"padding\":\"" + (i == 1 && shaped ? "on" : "off") + "\"";
            ingress.add("{\"name\":\"l" + i + "\",\"credential\":\"layer" + i + "\"" + padding + "}");
            egress.add("{\"name\":\"l" + i + "\",\"trust\":\"bench-ca\",\"serverName\":"
                    + Json.quote(Pki.layerHost(i)) + padding + "}");
        }
        String name = (shaped ? "shaped-" : "unshaped-") + depth;
        int exit = onion.exit.relayOfLayers("exit-" + name, sinkPort, ingress, List.of(), 1024);
        WireTap tap = WireTap.start(exit);
        int direct = onion.entry.relayOfLayers("entry-" + name, exit, List.of(), egress, 1024);
        int tapped;
        try {
            tapped = onion.entry.relayOfLayers("entry-" + name + "-tap", tap.port(), List.of(), egress, 1024);
        } catch (IOException | InterruptedException e) {
            tap.close();
            throw e;
        }
        return new Pair(name, direct, tapped, tap);
    }

    /** One configuration's figures at one depth. */
    record Result(Contender.Onion onion, int depth, List<long[]> plainBytes, List<long[]> shapedBytes,
            double roundTripMillis, List<Double> plainSetupMillis, List<Double> shapedSetupMillis,
            List<Integer> plainFlights, List<Integer> shapedFlights, List<Double> plainSetupCpu,
            List<Double> shapedSetupCpu, List<Double> plainBulkCpu, List<Double> shapedBulkCpu, String layers,
            String java, String warmedUp) {

        /** Mean bytes up (entry to exit), down, both, records up and down, of the tunnels of one kind. */
        static double[] mean(List<long[]> bytes) {
            double up = bytes.stream().mapToLong(b -> b[0]).average().orElse(Double.NaN);
            double down = bytes.stream().mapToLong(b -> b[1]).average().orElse(Double.NaN);
            double recordsUp = bytes.stream().mapToLong(b -> b[2]).average().orElse(Double.NaN);
            double recordsDown = bytes.stream().mapToLong(b -> b[3]).average().orElse(Double.NaN);
            return new double[] {up, down, up + down, recordsUp, recordsDown};
        }

        double bytesRatio() {
            return mean(shapedBytes)[2] / mean(plainBytes)[2];
        }

        /** The shaped tunnel with the most bytes against the unshaped mean: what the target judges. */
        double worstBytesRatio() {
            long worst = shapedBytes.stream().mapToLong(b -> b[0] + b[1]).max().orElse(0);
            return worst / mean(plainBytes)[2];
        }

        double plainRoundTrips() {
            return median(plainSetupMillis) / roundTripMillis;
        }

        double shapedRoundTrips() {
            return median(shapedSetupMillis) / roundTripMillis;
        }

        double extraRoundTrips() {
            return shapedRoundTrips() - plainRoundTrips();
        }

        /**
         * Met when the extra rounds to at most one round trip: a set-up takes a whole number of round trips plus the
         * handshakes' CPU, which is the same with and without padding up to the scatter.
         */
        boolean roundTripsMet() {
            return Math.round(extraRoundTrips()) <= EXTRA_ROUND_TRIPS_WANTED;
        }

        double setupCpuRatio() {
            return least(shapedSetupCpu) / least(plainSetupCpu);
        }

        double bulkCpuRatio() {
            return least(shapedBulkCpu) / least(plainBulkCpu);
        }

        /** The ratio of each bulk run shaped to the unshaped run next to it. */
        List<Double> bulkRunRatios() {
            List<Double> ratios = new ArrayList<>();
            for (int i = 0; i < Math.min(shapedBulkCpu.size(), plainBulkCpu.size()); i++) {
                ratios.add(shapedBulkCpu.get(i) / plainBulkCpu.get(i));
            }
            return ratios;
        }
    }

    static double least(List<Double> values) {
        return values.stream().mapToDouble(Double::doubleValue).min().orElse(Double.NaN);
    }

    static double median(List<? extends Number> values) {
        double[] sorted = values.stream().mapToDouble(Number::doubleValue).sorted().toArray();
        if (sorted.length == 0) {
            return Double.NaN;
        }
        int mid = sorted.length / 2;
        return sorted.length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    }

    /** Checks that the twins are what they claim, warms both up, then measures everything in alternation. */
    static Result measure(Contender.Onion onion, Twins twins, Options options, Load.Payload payload) throws Exception {
        String layers = verifyShaping(onion, twins);
        List<Long> pids = onion.pids(twins.depth());
        String warmedUp = warmUp(twins, options, payload, pids);

        List<long[]> plainBytes = new ArrayList<>();
        List<long[]> shapedBytes = new ArrayList<>();
        for (int i = 0; i < options.shapingTunnels; i++) {
            for (int k = 0; k < 2; k++) {
                boolean shaped = (i + k) % 2 == 1;
                (shaped ? shapedBytes : plainBytes).add(echoBytes(shaped ? twins.shaped() : twins.plain(), payload));
            }
        }

        Duration delay = Duration.ofMillis(options.shapingDelayMillis);
        List<Double> plainSetup = new ArrayList<>();
        List<Double> shapedSetup = new ArrayList<>();
        List<Integer> plainFlights = new ArrayList<>();
        List<Integer> shapedFlights = new ArrayList<>();
        twins.plain().tap().delay(delay);
        twins.shaped().tap().delay(delay);
        try {
            for (int i = 0; i < options.shapingTunnels; i++) {
                for (int k = 0; k < 2; k++) {
                    boolean shaped = (i + k) % 2 == 1;
                    double[] setup = setupThroughTap(shaped ? twins.shaped() : twins.plain());
                    (shaped ? shapedSetup : plainSetup).add(setup[0]);
                    (shaped ? shapedFlights : plainFlights).add((int) setup[1]);
                }
            }
        } finally {
            twins.plain().tap().delay(Duration.ZERO);
            twins.shaped().tap().delay(Duration.ZERO);
        }

        List<Double> plainSetupCpu = new ArrayList<>();
        List<Double> shapedSetupCpu = new ArrayList<>();
        Duration window = Duration.ofMillis((long) (options.seconds * 1000));
        for (int run = 0; run < options.runs; run++) {
            for (int k = 0; k < 2; k++) {
                boolean shaped = (run + k) % 2 == 1;
                double cpuBefore = Cpu.seconds(pids);
                Load.SetupRate r = Load.setupRate((shaped ? twins.shaped() : twins.plain()).direct(),
                        options.setupConcurrency, Duration.ofMillis(500), window);
                if (r.tunnels() == 0) {
                    throw new IOException(onion.label + ": no tunnel set up through the "
                            + (shaped ? "shaped" : "unshaped") + " pair at depth " + twins.depth());
                }
                (shaped ? shapedSetupCpu : plainSetupCpu).add((Cpu.seconds(pids) - cpuBefore) * 1000 / r.all());
                Thread.sleep(300);
            }
        }

        List<Double> plainBulk = new ArrayList<>();
        List<Double> shapedBulk = new ArrayList<>();
        for (int run = 0; run < options.shapingRuns; run++) {
            for (int k = 0; k < 2; k++) {
                boolean shaped = (run + k) % 2 == 1;
                double cpuBefore = Cpu.seconds(pids);
                Load.Throughput t = Load.throughput(
                        (shaped ? twins.shaped() : twins.plain()).direct(), payload, options.shapingMib, 1);
                (shaped ? shapedBulk : plainBulk).add((Cpu.seconds(pids) - cpuBefore) / (t.bytes() / 1e9));
            }
        }
        return new Result(onion, twins.depth(), plainBytes, shapedBytes, 2.0 * options.shapingDelayMillis, plainSetup,
                shapedSetup, plainFlights, shapedFlights, plainSetupCpu, shapedSetupCpu, plainBulk, shapedBulk,
                layers, Cpu.javaVersion(onion.entry.pid()), warmedUp);
    }

    /**
     * Opens one tunnel through each twin and reads its status from both relays: the shaped pair's outer layer must say
     * {@code padding: "on"} on both sides, the unshaped pair's no layer. Returns what the shaped tunnel's layers run on.
     */
    private static String verifyShaping(Contender.Onion onion, Twins twins) throws Exception {
        String layers = "";
        for (Pair pair : List.of(twins.plain(), twins.shaped())) {
            boolean shaped = pair == twins.shaped();
            Load.Idle idle = Load.openIdle(pair.direct(), 1, 1);
            try {
                if (idle.channels().isEmpty()) {
                    throw new IOException(onion.label + ": no tunnel through " + pair.name() + ": " + idle.failure());
                }
                String entry = onion.entry.get("/relays/entry-" + pair.name() + "/tunnels");
                String exit = onion.exit.get("/relays/exit-" + pair.name() + "/tunnels");
                for (String status : List.of(entry, exit)) {
                    List<String> padding = Json.strings(status, "padding");
                    boolean on = padding.contains("on");
                    if (on != shaped) {
                        throw new IOException(onion.label + ": tunnel of " + pair.name() + " reports padding "
                                + padding + ": " + status);
                    }
                }
                if (shaped) {
                    layers = "entry " + Json.strings(entry, "provider") + ", exit "
                            + Json.strings(exit, "provider") + "; padding per layer " + Json.strings(entry, "padding");
                }
            } finally {
                Load.closeAll(idle.channels());
            }
        }
        return layers;
    }

    /**
     * Traffic through both twins (bulk, set-ups, echoes through the taps) until the relays' JIT compiler threads are
     * idle: the global warm-up did not pass through the shaping handler.
     */
    private static String warmUp(Twins twins, Options options, Load.Payload payload, List<Long> pids)
            throws Exception {
        long began = System.nanoTime();
        // As the global warm-up: fresh relays need about 45 s of traffic here before their JIT settles.
        long limit = began + (long) (Math.max(60, 3 * options.warmup) * 1e9);
        int round = 0;
        double share = 1;
        while (round < 3 || (share >= 0.05 && System.nanoTime() < limit)) {
            double compilerBefore = Cpu.compilerSeconds(pids);
            long roundStart = System.nanoTime();
            for (Pair pair : List.of(twins.plain(), twins.shaped())) {
                Load.throughput(pair.direct(), payload, 64, 1);
                Load.setupRate(pair.direct(), options.setupConcurrency, Duration.ZERO, Duration.ofMillis(500));
                echoBytes(pair, payload);
            }
            share = (Cpu.compilerSeconds(pids) - compilerBefore) / ((System.nanoTime() - roundStart) / 1e9);
            round++;
        }
        return String.format(Locale.ROOT, "warm-up %d rounds, %.0f s, JIT compilers at %.0f%% of a core in the last",
                round, (System.nanoTime() - began) / 1e9, share * 100);
    }

    /**
     * One tunnel through the pair's tap carrying a 1 MiB echo (written by one thread while another reads it back and
     * compares it), closed, and the bytes and TLS records the tap saw each way from its connect to its close: {bytes
     * up, bytes down, records up, records down}.
     */
    private static long[] echoBytes(Pair pair, Load.Payload payload) throws Exception {
        int index = pair.tap().accepted();
        ExecutorService writer = Executors.newSingleThreadExecutor();
        try (SocketChannel channel = Load.open(pair.tapped())) {
            Load.writeFully(channel, Load.header(Wire.ECHO, 0));
            Future<?> written = writer.submit(() -> {
                Load.writeFully(channel, payload.block().limit(TRANSFER));
                return null;
            });
            ByteBuffer back = ByteBuffer.allocate(TRANSFER);
            Load.readFully(channel, back);
            written.get(Load.STALL.toMillis(), TimeUnit.MILLISECONDS);
            back.flip();
            if (!back.equals(payload.block().limit(TRANSFER))) {
                throw new Load.IntegrityFailure("a 1 MiB echo through " + pair.name() + " came back different");
            }
        } finally {
            writer.shutdownNow();
        }
        WireTap.Connection connection = pair.tap().connection(index, Duration.ofSeconds(10));
        if (!connection.awaitEnded(Duration.ofSeconds(30))) {
            throw new IOException("the entry-exit connection of " + pair.name() + " did not close in 30 s");
        }
        return new long[] {connection.up(), connection.down(), connection.recordsUp(), connection.recordsDown()};
    }

    /**
     * One tunnel through the pair's (delaying) tap: milliseconds from the client's connect to the first byte of its
     * 64-byte echo, and the flights the tap saw before that byte. Waits for the tunnel's teardown before returning.
     */
    private static double[] setupThroughTap(Pair pair) throws Exception {
        int index = pair.tap().accepted();
        byte[] message = new byte[64];
        Arrays.fill(message, (byte) 0x5a);
        long began = System.nanoTime();
        long firstByte;
        try (SocketChannel channel = Load.open(pair.tapped())) {
            Load.writeFully(channel, Load.header(Wire.ECHO, 0));
            Load.writeFully(channel, ByteBuffer.wrap(message));
            ByteBuffer answer = ByteBuffer.allocate(64);
            if (channel.read(answer) <= 0) {
                throw new IOException("the tunnel through " + pair.name() + " closed before its echo");
            }
            firstByte = System.nanoTime();
            Load.readFully(channel, answer);
            if (!Arrays.equals(answer.array(), message)) {
                throw new Load.IntegrityFailure("an echo through " + pair.name() + " came back different");
            }
        }
        WireTap.Connection connection = pair.tap().connection(index, Duration.ofSeconds(10));
        if (!connection.awaitEnded(Duration.ofSeconds(30))) {
            throw new IOException("the entry-exit connection of " + pair.name() + " did not close in 30 s");
        }
        return new double[] {(firstByte - began) / 1e6, connection.flightsBefore(firstByte)};
    }

    static String format(Result r) {
        return String.format(Locale.ROOT, "%s depth %d: bytes %.4fx (worst %.4fx); set-up %.2f vs %.2f round trips "
                        + "(%+.2f; flights %.0f vs %.0f); set-up CPU %.2f vs %.2f ms/tunnel; bulk %.2f vs %.2f CPU "
                        + "s/GB = %.2fx (runs: %s); %s",
                r.onion().label, r.depth(), r.bytesRatio(), r.worstBytesRatio(), r.shapedRoundTrips(),
                r.plainRoundTrips(), r.extraRoundTrips(), median(r.shapedFlights()), median(r.plainFlights()),
                least(r.shapedSetupCpu()), least(r.plainSetupCpu()), least(r.shapedBulkCpu()),
                least(r.plainBulkCpu()), r.bulkCpuRatio(), ratios(r.bulkRunRatios()), r.warmedUp());
    }

    static String ratios(List<Double> ratios) {
        StringBuilder out = new StringBuilder();
        for (double ratio : ratios) {
            out.append(out.length() > 0 ? " " : "").append(String.format(Locale.ROOT, "%.2f", ratio));
        }
        return out.toString();
    }
}
