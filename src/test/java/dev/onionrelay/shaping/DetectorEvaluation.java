package dev.onionrelay.shaping;

import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.function.Function;
import java.util.stream.Collectors;

/**
 * Trains a {@link SizeBoxDetector} on one half of the connections and measures it on the other: each class is shuffled
 * with the given seed and cut in two, so the same seed gives the same split again.
 *
 * @param detector what was learned on the training half
 * @param truePositives test tunnels flagged
 * @param tunnels test tunnels
 * @param falsePositives test ordinary connections flagged, per kind of ordinary traffic
 * @param negatives test ordinary connections, per kind
 */
record DetectorEvaluation(
        SizeBoxDetector detector,
        int truePositives,
        int tunnels,
        Map<String, Integer> falsePositives,
        Map<String, Integer> negatives) {

    static final double MAX_FPR = 0.05;

    /** Splits, trains on the first halves (the false-positive budget kept per kind), tests on the second halves. */
    static DetectorEvaluation run(
            SizeBoxDetector.Where where, List<Flow> tunnels, Map<String, List<Flow>> ordinary, long seed) {
        List<List<Flow>> tunnelHalves = halves(tunnels, seed);
        Map<String, List<Flow>> ordinaryTraining = new java.util.LinkedHashMap<>();
        Map<String, List<Flow>> ordinaryTest = new java.util.LinkedHashMap<>();
        ordinary.forEach((kind, flows) -> {
            List<List<Flow>> split = halves(flows, seed);
            ordinaryTraining.put(kind, split.get(0));
            ordinaryTest.put(kind, split.get(1));
        });
        SizeBoxDetector detector = SizeBoxDetector.train(where, tunnelHalves.get(0), ordinaryTraining, MAX_FPR);
        int truePositives =
                (int) tunnelHalves.get(1).stream().filter(detector::flags).count();
        Map<String, Integer> falsePositives = new java.util.LinkedHashMap<>();
        Map<String, Integer> negatives = new java.util.LinkedHashMap<>();
        ordinaryTest.forEach((kind, flows) -> {
            falsePositives.put(
                    kind, (int) flows.stream().filter(detector::flags).count());
            negatives.put(kind, flows.size());
        });
        return new DetectorEvaluation(
                detector, truePositives, tunnelHalves.get(1).size(), falsePositives, negatives);
    }

    private static List<List<Flow>> halves(List<Flow> flows, long seed) {
        List<Flow> shuffled = new ArrayList<>(flows);
        Collections.shuffle(shuffled, new Random(seed));
        int half = shuffled.size() / 2;
        return List.of(shuffled.subList(0, half), shuffled.subList(half, shuffled.size()));
    }

    double truePositiveRate() {
        return (double) truePositives / tunnels;
    }

    /** The false-positive rate on one kind of ordinary traffic. */
    double falsePositiveRate(String kind) {
        return (double) falsePositives.get(kind) / negatives.get(kind);
    }

    String report(String title, long seed) {
        StringBuilder report = new StringBuilder();
        report.append(String.format(
                "%s (seed %d): TPR %.3f (%d/%d)", title, seed, truePositiveRate(), truePositives, tunnels));
        falsePositives.forEach((kind, flagged) -> report.append(String.format(
                ", FPR %.3f on %s (%d/%d)", falsePositiveRate(kind), kind, flagged, negatives.get(kind))));
        report.append("\n  boxes: ").append(detector.boxes());
        return report.toString();
    }

    /** The most frequent values of {@code feature} over {@code flows}, "value x count", most frequent first. */
    static String commonest(List<Flow> flows, Function<Flow, Object> feature, int limit) {
        return flows.stream().collect(Collectors.groupingBy(feature, Collectors.counting())).entrySet().stream()
                .sorted(Map.Entry.<Object, Long>comparingByValue(Comparator.reverseOrder()))
                .limit(limit)
                .map(entry -> entry.getKey() + " x" + entry.getValue())
                .collect(Collectors.joining(", "));
    }

    /** The median time from the first exchange's client record to the server's answer, in milliseconds. */
    static double medianAnswerMillis(List<Flow> flows) {
        double[] millis = flows.stream()
                .mapToLong(flow -> flow.first().answerNanos())
                .filter(nanos -> nanos >= 0)
                .sorted()
                .mapToDouble(nanos -> nanos / 1e6)
                .toArray();
        return millis.length == 0 ? Double.NaN : millis[millis.length / 2];
    }
}
