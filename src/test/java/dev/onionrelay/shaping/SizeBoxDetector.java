package dev.onionrelay.shaping;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.stream.IntStream;

/**
 * A detector of TLS-in-TLS on the features of Xue et al. (USENIX Security 2024) and XTLS Trojan-killer: the size of
 * the first client record of an exchange and the byte count of the server burst that answers it. An inner handshake
 * shows as an exchange whose client record is an inner ClientHello plus one record overhead per layer, answered by an
 * inner server flight (plus the outer session tickets, on the first exchange): sizes fixed by the software and the
 * certificates, one pair per handshake mode (fresh, resumed), whatever the application sends later.
 *
 * <p><b>Why boxes.</b> Learned on the tunnels of the training half: their exchanges (the first after the outer
 * handshake, or every later one for an inner handshake mid-stream, a push or a pop) are grouped into modes (sorted by
 * client record, a new mode wherever the next size is more than {@value #MODE_GAP} bytes on, then likewise on the server
 * burst: a gap small enough that two modes a few dozen bytes apart, such as a pop's close_notify pair and a teardown,
 * stay apart, and that the random sizes of ordinary data rarely chain into a mode),
 * and each mode that recurs (in at least {@value #MIN_SUPPORT_SHARE} of the training tunnels) becomes a box: its
 * smallest to largest client record and server burst, widened by {@value #MARGIN} bytes (ECDSA signatures vary by a
 * few bytes, so a test tunnel may land just outside what training saw). A connection is flagged when one of its
 * exchanges falls in a box. A nearest-neighbour vote was the alternative; it lets an ordinary connection near a tight
 * cluster of tunnels win by proximity, while a box only flags the sizes the tunnels actually have.
 *
 * <p><b>Operating point.</b> Boxes are kept, most supported first, only while the ordinary connections of the training
 * half that they flag stay within the false-positive budget, on each kind of ordinary traffic: a mode that padding spreads over a wide range of sizes
 * would flag ordinary traffic too, and is dropped rather than bought with false positives. A box must also be
 * evidence: it must flag the training tunnels at least {@value #MIN_LIKELIHOOD_RATIO} times as often as the training
 * connections of each ordinary kind. Without that rule, against padded tunnels, the detector kept boxes such as "client
 * record 428..537, no server answer" that held 8 of 100 training tunnels and 4 of 100 tunnels without the event: sizes
 * that padding draws for both, which then flagged the test half at about their false-positive rate (0.04-0.08), noise
 * at the operating point rather than a finding. And a box must be significant: a few tunnels that happen to share a
 * size pair no ordinary connection of the training half has (6 of 100 against 0 of 100 happens by chance one time in
 * 70) are chance too, once several candidate boxes are tried, so each must pass a one-sided Fisher exact test against
 * each ordinary kind at {@value #FAMILY_ALPHA} over the number of candidates. Every box that decides a finding against
 * unpadded tunnels holds dozens of tunnels and no ordinary connection, so neither rule touches them. The ordinary connections may
 * include tunnels without the event looked for (for a push: tunnels that saw none), so that what every tunnel shows
 * anyway (its first exchange, its teardown) cannot pass for the event.
 *
 * <p>Inter-arrival times are measured ({@link Flow.Exchange#answerNanos}) and printed but not used: on a shared
 * loopback they say more about the machine's load than about the protocol.
 */
final class SizeBoxDetector {

    static final int MODE_GAP = 8;
    static final int MARGIN = 16;
    static final double MIN_SUPPORT_SHARE = 0.05;
    /**
     * How many times more often a box must flag the training tunnels than the training connections of any ordinary
     * kind: below it, the box is no evidence of a tunnel, only of sizes both kinds of traffic have.
     */
    static final double MIN_LIKELIHOOD_RATIO = 3;
    /**
     * The chance, over all the candidate boxes of one training, that a box is kept whose sizes tunnels and the ordinary
     * connections of a kind have equally often: each box must pass a one-sided Fisher exact test against each kind at
     * this level divided by the number of candidates (Bonferroni).
     */
    static final double FAMILY_ALPHA = 0.01;

    /** Which exchanges of a connection the detector looks at. */
    enum Where {
        /** The first exchange after the outer handshake: the inner handshake of a new tunnel. */
        FIRST,
        /** Every exchange after the first: an inner handshake or close mid-stream (a push, a pop). */
        MID_STREAM;

        List<Flow.Exchange> of(Flow flow) {
            if (flow.exchanges().isEmpty()) {
                return List.of();
            }
            return this == FIRST
                    ? List.of(flow.exchanges().get(0))
                    : flow.exchanges().subList(1, flow.exchanges().size());
        }
    }

    /** A range of client record sizes and server burst sizes, with how many training tunnels had it. */
    record Box(long clientMin, long clientMax, long serverMin, long serverMax, int support) {
        boolean contains(Flow.Exchange exchange) {
            return exchange.firstClientRecord() >= clientMin
                    && exchange.firstClientRecord() <= clientMax
                    && exchange.serverBytes() >= serverMin
                    && exchange.serverBytes() <= serverMax;
        }

        @Override
        public String toString() {
            return "client record " + clientMin + ".." + clientMax + ", server burst " + serverMin + ".." + serverMax
                    + " (" + support + " tunnels)";
        }
    }

    private final Where where;
    private final List<Box> boxes;

    private SizeBoxDetector(Where where, List<Box> boxes) {
        this.where = where;
        this.boxes = List.copyOf(boxes);
    }

    List<Box> boxes() {
        return boxes;
    }

    boolean flags(Flow flow) {
        return where.of(flow).stream().anyMatch(exchange -> boxes.stream().anyMatch(box -> box.contains(exchange)));
    }

    /** Learns boxes from {@code tunnels}, keeping those whose flags on {@code ordinary} stay within {@code maxFpr}. */
    static SizeBoxDetector train(Where where, List<Flow> tunnels, List<Flow> ordinary, double maxFpr) {
        return train(where, tunnels, java.util.Map.of("ordinary", ordinary), maxFpr);
    }

    /**
     * Learns boxes from {@code tunnels}, keeping those whose flags stay within {@code maxFpr} on each kind of
     * {@code ordinary} traffic on its own: a budget shared by all kinds could be spent on one of them alone.
     */
    static SizeBoxDetector train(
            Where where, List<Flow> tunnels, java.util.Map<String, List<Flow>> ordinary, double maxFpr) {
        record Point(int flow, Flow.Exchange exchange) {}
        List<Point> points = new ArrayList<>();
        for (int i = 0; i < tunnels.size(); i++) {
            for (Flow.Exchange exchange : where.of(tunnels.get(i))) {
                points.add(new Point(i, exchange));
            }
        }
        List<Box> candidates = new ArrayList<>();
        for (List<Point> byClient : modes(points, point -> point.exchange().firstClientRecord())) {
            for (List<Point> mode : modes(byClient, point -> point.exchange().serverBytes())) {
                int support =
                        (int) mode.stream().mapToInt(Point::flow).distinct().count();
                if (support < Math.max(2, MIN_SUPPORT_SHARE * tunnels.size())) {
                    continue;
                }
                candidates.add(new Box(
                        min(mode, p -> p.exchange().firstClientRecord()) - MARGIN,
                        max(mode, p -> p.exchange().firstClientRecord()) + MARGIN,
                        min(mode, p -> p.exchange().serverBytes()) - MARGIN,
                        max(mode, p -> p.exchange().serverBytes()) + MARGIN,
                        support));
            }
        }
        candidates.sort(Comparator.comparingInt(Box::support).reversed());
        List<Box> kept = new ArrayList<>();
        java.util.Map<String, Set<Integer>> flagged = new java.util.HashMap<>();
        ordinary.keySet().forEach(kind -> flagged.put(kind, new HashSet<>()));
        for (Box box : candidates) {
            java.util.Map<String, Set<Integer>> wouldFlag = new java.util.HashMap<>();
            boolean withinBudget = true;
            boolean evidence = true;
            double tunnelRate = (double) box.support() / tunnels.size();
            double alpha = FAMILY_ALPHA / candidates.size();
            for (var kind : ordinary.entrySet()) {
                List<Flow> flows = kind.getValue();
                Set<Integer> own = new HashSet<>();
                IntStream.range(0, flows.size())
                        .filter(i -> where.of(flows.get(i)).stream().anyMatch(box::contains))
                        .forEach(own::add);
                Set<Integer> flags = new HashSet<>(flagged.get(kind.getKey()));
                flags.addAll(own);
                wouldFlag.put(kind.getKey(), flags);
                withinBudget &= flags.size() <= maxFpr * flows.size();
                evidence &= tunnelRate >= MIN_LIKELIHOOD_RATIO * own.size() / flows.size()
                        && fisherOneSided(box.support(), tunnels.size(), own.size(), flows.size()) <= alpha;
            }
            if (withinBudget && evidence) {
                kept.add(box);
                flagged.putAll(wouldFlag);
            }
        }
        return new SizeBoxDetector(where, kept);
    }

    /**
     * The chance that at least {@code flaggedTunnels} of the {@code flaggedTunnels + flaggedOrdinary} connections a box
     * flags are tunnels, were the box to flag each of the {@code tunnels + ordinary} connections alike (the
     * hypergeometric tail: a one-sided Fisher exact test).
     */
    static double fisherOneSided(int flaggedTunnels, int tunnels, int flaggedOrdinary, int ordinary) {
        int flagged = flaggedTunnels + flaggedOrdinary;
        double total = 0;
        for (int x = flaggedTunnels; x <= Math.min(flagged, tunnels); x++) {
            total += Math.exp(
                    logChoose(tunnels, x) + logChoose(ordinary, flagged - x) - logChoose(tunnels + ordinary, flagged));
        }
        return Math.min(1, total);
    }

    private static double logChoose(int n, int k) {
        if (k < 0 || k > n) {
            return Double.NEGATIVE_INFINITY;
        }
        double log = 0;
        for (int i = 1; i <= k; i++) {
            log += Math.log(n - k + i) - Math.log(i);
        }
        return log;
    }

    /** Cuts {@code points}, sorted by {@code size}, where the next size is more than {@value #MODE_GAP} bytes on. */
    private static <T> List<List<T>> modes(List<T> points, java.util.function.ToLongFunction<T> size) {
        List<T> sorted = new ArrayList<>(points);
        sorted.sort(Comparator.comparingLong(size));
        List<List<T>> modes = new ArrayList<>();
        List<T> current = new ArrayList<>();
        for (T point : sorted) {
            if (!current.isEmpty()
                    && size.applyAsLong(point) - size.applyAsLong(current.get(current.size() - 1)) > MODE_GAP) {
                modes.add(current);
                current = new ArrayList<>();
            }
            current.add(point);
        }
        if (!current.isEmpty()) {
            modes.add(current);
        }
        return modes;
    }

    private static <T> long min(List<T> points, java.util.function.ToLongFunction<T> size) {
        return points.stream().mapToLong(size).min().orElseThrow();
    }

    private static <T> long max(List<T> points, java.util.function.ToLongFunction<T> size) {
        return points.stream().mapToLong(size).max().orElseThrow();
    }

    @Override
    public String toString() {
        return where + " " + boxes;
    }
}
