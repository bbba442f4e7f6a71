package dev.onionrelay.shaping;

import static org.assertj.core.api.Assertions.assertThat;

import dev.onionrelay.layer.LayerSpec;
import dev.onionrelay.support.Scenario;
import dev.onionrelay.support.TlsRecordTap;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 27's detector, with teeth: depth-2 onion tunnels and ordinary HTTPS connections (curl, Python's http.client)
 * of the same request and response sizes pass through one {@link TlsRecordTap}; a {@link SizeBoxDetector} trained on
 * half of each finds the tunnels among the other half by their inner handshake, and live tunnels by a push or a pop.
 * With {@code padding: "off"} (today's wire) it must reach a true-positive rate of 0.95 at a false-positive rate of
 * at most 0.05; with {@code padding: "on"} it must fall to 0.1 or less.
 *
 * <p>{@code -Ddetector.flows=N} sets the connections per class (default 200), {@code -Ddetector.seed=S} the split's
 * seed (default 27); {@code scripts/detector-run} runs this class with them. Every figure is printed.
 */
@Scenario
class TlsInTlsDetectionTest {

    static final int FLOWS = Integer.getInteger("detector.flows", 200);
    static final long SEED = Long.getLong("detector.seed", 27);
    static final int PARALLEL = 4;
    static final Duration SETTLE = Duration.ofSeconds(60);

    @TempDir
    static Path files;

    static HttpTarget target;
    static TlsRecordTap tap;
    static OnionTraffic onions;
    static List<Flow> tunnels;
    static List<Flow> https;
    static List<Flow> keepAliveHttps;
    static OnionTraffic padded;
    static List<Flow> paddedTunnels;

    /** The outer layer with padding on (issue 27). */
    static final UnaryOperator<LayerSpec> PADDING_ON = spec -> spec.withPadding(true);

    @BeforeAll
    static void generate() throws Exception {
        long started = System.nanoTime();
        target = new HttpTarget(files);
        tap = new TlsRecordTap(target.tlsPort);
        https = ordinaryConnections(1);
        onions = tunnelsThroughTheTap(UnaryOperator.identity());
        onions.newTunnels(FLOWS, PARALLEL, new Random(SEED));
        tunnels = flows(FLOWS);
        System.out.printf(
                "detector: %d tunnels and %d HTTPS connections generated in %.1f s%n",
                FLOWS, FLOWS, (System.nanoTime() - started) / 1e9);
    }

    @AfterAll
    static void stop() throws Exception {
        if (onions != null) {
            onions.close();
        }
        if (padded != null) {
            padded.close();
        }
        if (tap != null) {
            tap.close();
        }
        if (target != null) {
            target.close();
        }
    }

    @Test
    void theInnerHandshakeOfEveryNewTunnelGivesItAwayWithPaddingOff() {
        DetectorEvaluation evaluation = newTunnels("padding off", tunnels);

        assertThat(evaluation.truePositiveRate())
                .as(evaluation.report("", SEED))
                .isGreaterThanOrEqualTo(0.95);
        assertThat(evaluation.falsePositiveRate("https"))
                .as(evaluation.report("", SEED))
                .isLessThanOrEqualTo(DetectorEvaluation.MAX_FPR);
    }

    @Test
    void aPushOnALiveTunnelGivesItAwayWithPaddingOff() throws Exception {
        DetectorEvaluation evaluation = liveEvent(onions, OnionTraffic.LiveEvent.PUSH, "padding off", tunnels);

        assertThat(evaluation.truePositiveRate())
                .as(evaluation.report("", SEED))
                .isGreaterThanOrEqualTo(0.95);
        assertFalsePositivesWithinBudget(evaluation);
    }

    @Test
    void aPopOnALiveTunnelGivesItAwayWithPaddingOff() throws Exception {
        DetectorEvaluation evaluation = liveEvent(onions, OnionTraffic.LiveEvent.POP, "padding off", tunnels);

        assertThat(evaluation.truePositiveRate())
                .as(evaluation.report("", SEED))
                .isGreaterThanOrEqualTo(0.95);
        assertFalsePositivesWithinBudget(evaluation);
    }

    @Test
    void paddingOnTheOuterLayerHidesTheInnerHandshakeOfNewTunnels() throws Exception {
        DetectorEvaluation evaluation = newTunnels("padding on", paddedTunnels());

        assertThat(evaluation.truePositiveRate())
                .as(evaluation.report("", SEED))
                .isLessThanOrEqualTo(0.1);
    }

    /**
     * A depth-1 onion whose only layer is shaped: what an observer sees of it is the relay's HTTP carried in padded
     * records, against ordinary HTTPS of the same sizes.
     */
    @Test
    void paddingOnTheOnlyLayerOfADepthOneOnionHidesItsTunnels() throws Exception {
        List<Flow> depthOne;
        try (OnionTraffic traffic = new OnionTraffic(target.plainPort, PADDING_ON, 1)) {
            traffic.through(tap.port());
            tap.forwardTo(traffic.exitPort());
            traffic.newTunnels(FLOWS, PARALLEL, new Random(SEED + 2));
            depthOne = flows(FLOWS);
        }
        DetectorEvaluation evaluation = newTunnels("padding on, depth 1", depthOne);

        assertThat(evaluation.truePositiveRate())
                .as(evaluation.report("", SEED))
                .isLessThanOrEqualTo(0.1);
    }

    @Test
    void paddingOnTheOuterLayerHidesAPushOnALiveTunnel() throws Exception {
        assertPaddingHides(OnionTraffic.LiveEvent.PUSH);
    }

    @Test
    void paddingOnTheOuterLayerHidesAPopOnALiveTunnel() throws Exception {
        assertPaddingHides(OnionTraffic.LiveEvent.POP);
    }

    /** The detector finds at most one in ten padded tunnels with {@code event} on them. */
    private static void assertPaddingHides(OnionTraffic.LiveEvent event) throws Exception {
        DetectorEvaluation evaluation = liveEvent(padded(), event, "padding on", paddedTunnels());

        assertThat(evaluation.truePositiveRate())
                .as(evaluation.report("", SEED))
                .isLessThanOrEqualTo(0.1);
        // With padding on, the false-positive rate is not asserted: a detector over its 5% budget is only made
        // to fit it by dropping boxes, which can lower its TPR, never raise it (the off cases assert both).
        evaluation
                .negatives()
                .keySet()
                .forEach(kind -> System.out.println(kind + " FPR " + evaluation.falsePositiveRate(kind)));
    }

    private static DetectorEvaluation newTunnels(String shaping, List<Flow> tunnels) {
        System.out.println("first exchange (client record, client burst, server burst) of the tunnels, " + shaping
                + ": "
                + DetectorEvaluation.commonest(tunnels, flow -> flow.first().toString(), 6));
        System.out.println("of the HTTPS connections: "
                + DetectorEvaluation.commonest(https, flow -> flow.first().toString(), 3));
        System.out.printf(
                "median answer time of the first exchange: tunnels %.2f ms, HTTPS %.2f ms%n",
                DetectorEvaluation.medianAnswerMillis(tunnels), DetectorEvaluation.medianAnswerMillis(https));
        DetectorEvaluation evaluation =
                DetectorEvaluation.run(SizeBoxDetector.Where.FIRST, tunnels, Map.of("https", https), SEED);
        System.out.println(evaluation.report("new tunnels, " + shaping, SEED));
        return evaluation;
    }

    /**
     * Tunnels with {@code event} between two requests, against keep-alive HTTPS connections with two requests and
     * against {@code withoutEvent} tunnels: what every tunnel shows anyway cannot pass for the event.
     */
    private static DetectorEvaluation liveEvent(
            OnionTraffic traffic, OnionTraffic.LiveEvent event, String shaping, List<Flow> withoutEvent)
            throws Exception {
        long started = System.nanoTime();
        List<Flow> keepAlive = keepAliveHttps();
        tap.forwardTo(traffic.exitPort());
        traffic.liveTunnels(FLOWS, event, new Random(SEED + event.ordinal()));
        List<Flow> live = flows(FLOWS);
        System.out.printf(
                "detector: %d tunnels with a %s generated in %.1f s%n",
                FLOWS, event, (System.nanoTime() - started) / 1e9);
        if (Boolean.getBoolean("detector.dump")) {
            live.stream().limit(3).forEach(flow -> System.out.println(event + " flow: " + flow.records()));
        }
        Map<String, List<Flow>> negatives = new LinkedHashMap<>();
        negatives.put("keep-alive HTTPS", keepAlive);
        negatives.put("tunnels without a " + event, withoutEvent);
        DetectorEvaluation evaluation = DetectorEvaluation.run(SizeBoxDetector.Where.MID_STREAM, live, negatives, SEED);
        System.out.println(evaluation.report(event + " on live tunnels, " + shaping, SEED));
        return evaluation;
    }

    private static void assertFalsePositivesWithinBudget(DetectorEvaluation evaluation) {
        evaluation.negatives().keySet().forEach(kind -> assertThat(evaluation.falsePositiveRate(kind))
                .as(kind)
                .isLessThanOrEqualTo(DetectorEvaluation.MAX_FPR));
    }

    private static synchronized OnionTraffic padded() throws Exception {
        if (padded == null) {
            padded = new OnionTraffic(target.plainPort, PADDING_ON);
            padded.through(tap.port());
        }
        return padded;
    }

    private static synchronized List<Flow> paddedTunnels() throws Exception {
        if (paddedTunnels == null) {
            tap.forwardTo(padded().exitPort());
            padded().newTunnels(FLOWS, PARALLEL, new Random(SEED + 1));
            paddedTunnels = flows(FLOWS);
        }
        return paddedTunnels;
    }

    private static synchronized List<Flow> keepAliveHttps() throws Exception {
        if (keepAliveHttps == null) {
            keepAliveHttps = ordinaryConnections(2);
        }
        return keepAliveHttps;
    }

    private static List<Flow> ordinaryConnections(int requests) throws Exception {
        tap.forwardTo(target.tlsPort);
        new HttpsTraffic(files, target.caFile).connections(tap.port(), FLOWS, requests, PARALLEL, new Random(SEED));
        return flows(FLOWS);
    }

    private static OnionTraffic tunnelsThroughTheTap(UnaryOperator<LayerSpec> outerLayer) throws Exception {
        OnionTraffic traffic = new OnionTraffic(target.plainPort, outerLayer);
        traffic.through(tap.port());
        tap.forwardTo(traffic.exitPort());
        return traffic;
    }

    /**
     * The TLS connections of the batch just made. A connection that carried no record (a client that opened one and
     * closed it unused) is no TLS connection to an observer and is left out; every other one must be the batch's.
     */
    private static List<Flow> flows(int expected) throws InterruptedException {
        List<TlsRecordTap.Connection> connections = tap.takeFinished(expected, SETTLE);
        List<Flow> flows = connections.stream()
                .filter(connection -> !connection.records().isEmpty())
                .map(connection -> Flow.of(connection.records()))
                .toList();
        if (flows.size() != connections.size()) {
            System.out.printf(
                    "detector: %d connections without a record left out%n", connections.size() - flows.size());
        }
        assertThat(flows).as("TLS connections of the batch").hasSize(expected);
        return flows;
    }
}
