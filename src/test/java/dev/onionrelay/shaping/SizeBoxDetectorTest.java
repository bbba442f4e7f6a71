package dev.onionrelay.shaping;

import static org.assertj.core.api.Assertions.assertThat;

import dev.onionrelay.support.TlsRecordTap.Direction;
import dev.onionrelay.support.TlsRecordTap.Record;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.assertj.core.groups.Tuple;
import org.junit.jupiter.api.Test;

/** The features a passive observer takes from a connection's records, and the boxes learned on them. */
class SizeBoxDetectorTest {

    static final Direction C = Direction.CLIENT;
    static final Direction S = Direction.SERVER;

    /** A TLS 1.3 handshake as the tap sees it, then {@code after} (direction, length) pairs of application data. */
    static Flow flow(Object... after) {
        List<Record> records = new ArrayList<>(List.of(
                new Record(C, 22, 1421, 0),
                new Record(S, 22, 1215, 1),
                new Record(S, 20, 6, 2),
                new Record(S, 23, 969, 3),
                new Record(C, 20, 6, 4),
                new Record(C, 23, 58, 5)));
        for (int i = 0; i < after.length; i += 2) {
            records.add(new Record((Direction) after[i], 23, (Integer) after[i + 1], 10 + i));
        }
        return Flow.of(records);
    }

    @Test
    void theHandshakeEndsWithTheClientsFinishedAndQuickTicketsJoinTheFirstServerBurst() {
        Flow ticketsFirst = flow(S, 386, C, 1443, S, 2212, C, 700, S, 5000);
        Flow ticketsAfter = flow(C, 1443, S, 386, S, 2212, C, 700, S, 5000);

        assertThat(ticketsFirst.exchanges())
                .extracting(Flow.Exchange::firstClientRecord, Flow.Exchange::serverBytes)
                .containsExactly(Tuple.tuple(1443, 2598L), Tuple.tuple(700, 5000L));
        assertThat(ticketsAfter.exchanges())
                .as("the same exchanges whoever was faster")
                .extracting(Flow.Exchange::firstClientRecord, Flow.Exchange::serverBytes)
                .containsExactly(Tuple.tuple(1443, 2598L), Tuple.tuple(700, 5000L));
    }

    @Test
    void boxesAroundTheTunnelsModesFlagTunnelsAndNotOrdinaryConnections() {
        Random random = new Random(5);
        List<Flow> tunnels = new ArrayList<>();
        List<Flow> ordinary = new ArrayList<>();
        for (int i = 0; i < 100; i++) {
            // Two handshake modes, the server burst varying by a few bytes (signatures).
            tunnels.add(
                    i % 3 == 0
                            ? flow(C, 1443, S, 2596 + random.nextInt(4), C, 600, S, 700)
                            : flow(C, 1650, S, 1699, C, 600, S, 700));
            ordinary.add(flow(C, 100 + random.nextInt(3000), S, 200 + random.nextInt(8000)));
        }

        SizeBoxDetector detector = SizeBoxDetector.train(SizeBoxDetector.Where.FIRST, tunnels, ordinary, 0.05);

        assertThat(detector.boxes()).hasSize(2);
        assertThat(detector.flags(flow(C, 1443, S, 2600))).isTrue();
        assertThat(detector.flags(flow(C, 1650, S, 1699))).isTrue();
        assertThat(detector.flags(flow(C, 1650, S, 4000)))
                .as("the client record alone")
                .isFalse();
        assertThat(detector.flags(flow(C, 900, S, 1699)))
                .as("the server burst alone")
                .isFalse();
    }

    @Test
    void aModeThatWouldFlagTooManyOrdinaryConnectionsIsDropped() {
        List<Flow> tunnels = new ArrayList<>();
        List<Flow> ordinary = new ArrayList<>();
        for (int i = 0; i < 100; i++) {
            tunnels.add(flow(C, 1650, S, 1699));
            // One ordinary connection in ten looks exactly like a tunnel: a box there costs 10% false positives.
            ordinary.add(i % 10 == 0 ? flow(C, 1650, S, 1699) : flow(C, 300, S, 9000));
        }

        SizeBoxDetector detector = SizeBoxDetector.train(SizeBoxDetector.Where.FIRST, tunnels, ordinary, 0.05);

        assertThat(detector.boxes()).isEmpty();
        assertThat(detector.flags(tunnels.get(0))).isFalse();
    }

    @Test
    void theFalsePositiveBudgetHoldsForEachKindOfOrdinaryTrafficOnItsOwn() {
        List<Flow> tunnels = new ArrayList<>();
        List<Flow> https = new ArrayList<>();
        List<Flow> otherTunnels = new ArrayList<>();
        for (int i = 0; i < 100; i++) {
            tunnels.add(flow(C, 1650, S, 1699));
            https.add(flow(C, 300, S, 9000));
            // 8 in 100 of one kind: 4% of both kinds together, 8% of that kind.
            otherTunnels.add(i % 12 == 0 ? flow(C, 1650, S, 1699) : flow(C, 1443, S, 2598));
        }

        SizeBoxDetector detector = SizeBoxDetector.train(
                SizeBoxDetector.Where.FIRST,
                tunnels,
                java.util.Map.of("https", https, "other tunnels", otherTunnels),
                0.05);

        assertThat(detector.boxes()).isEmpty();
    }

    @Test
    void aBoxThatFlagsOrdinaryTrafficAlmostAsOftenAsTunnelsIsNoEvidenceAndIsDropped() {
        List<Flow> tunnels = new ArrayList<>();
        List<Flow> ordinary = new ArrayList<>();
        for (int i = 0; i < 100; i++) {
            // What padded live tunnels showed: a size pair in 8 of 100 tunnels and in 4 of 100 ordinary connections,
            // within the false-positive budget but only twice as common among the tunnels; and a real mode in 40.
            tunnels.add(
                    i % 12 == 0
                            ? flow(C, 480, S, 0, C, 480)
                            : i % 5 == 0 ? flow(C, 1650, S, 1699) : flow(C, 300 + 37 * i, S, 9000 + 11 * i));
            ordinary.add(i % 25 == 0 ? flow(C, 480, S, 0, C, 480) : flow(C, 300, S, 9000));
        }

        SizeBoxDetector detector = SizeBoxDetector.train(SizeBoxDetector.Where.FIRST, tunnels, ordinary, 0.05);

        assertThat(detector.boxes())
                .as("only the mode found in tunnels alone")
                .singleElement()
                .hasToString("client record 1634..1666, server burst 1683..1715 (18 tunnels)");
    }

    @Test
    void aBoxOfAFewTunnelsThatChanceExplainsIsNotKept() {
        List<Flow> tunnels = new ArrayList<>();
        List<Flow> ordinary = new ArrayList<>();
        for (int i = 0; i < 100; i++) {
            // 6 of 100 tunnels share a size pair that none of 100 ordinary connections has: one time in 70 by chance,
            // too often for one of two candidate boxes. A real mode holds 18 of them.
            tunnels.add(
                    i % 17 == 0
                            ? flow(C, 480, S, 0, C, 480)
                            : i % 5 == 0 ? flow(C, 1650, S, 1699) : flow(C, 300 + 37 * i, S, 9000 + 11 * i));
            ordinary.add(flow(C, 300, S, 9000));
        }

        SizeBoxDetector detector = SizeBoxDetector.train(SizeBoxDetector.Where.FIRST, tunnels, ordinary, 0.05);

        assertThat(detector.boxes())
                .as("only the mode chance does not explain")
                .singleElement()
                .hasToString("client record 1634..1666, server burst 1683..1715 (18 tunnels)");
        assertThat(SizeBoxDetector.fisherOneSided(6, 100, 0, 100)).isBetween(0.0142, 0.0145);
        assertThat(SizeBoxDetector.fisherOneSided(40, 100, 0, 100)).isLessThan(1e-12);
        assertThat(SizeBoxDetector.fisherOneSided(8, 100, 4, 100)).isGreaterThan(0.1);
    }

    @Test
    void midStreamLooksAtEveryExchangeButTheFirst() {
        List<Flow> pushed = new ArrayList<>();
        List<Flow> ordinary = new ArrayList<>();
        Random random = new Random(9);
        for (int i = 0; i < 40; i++) {
            pushed.add(flow(
                    C, 1650, S, 1699, C, 100 + random.nextInt(3000), S, 200 + random.nextInt(8000), C, 1493, S, 2240));
            ordinary.add(flow(C, 1650, S, 1699, C, 100 + random.nextInt(3000), S, 200 + random.nextInt(8000)));
        }

        SizeBoxDetector detector = SizeBoxDetector.train(SizeBoxDetector.Where.MID_STREAM, pushed, ordinary, 0.05);

        assertThat(detector.boxes())
                .singleElement()
                .hasToString("client record 1477..1509, server burst 2224..2256 (40 tunnels)");
        assertThat(detector.flags(flow(C, 1493, S, 2240)))
                .as("first exchange: not mid-stream")
                .isFalse();
        assertThat(detector.flags(flow(C, 1650, S, 1699, C, 1493, S, 2240))).isTrue();
    }
}
