package dev.onionrelay.layer.shaping;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** The shaping decisions alone: record sizes, what a window covers, and what it may cost. */
class ShapingPolicyTest {

    static final int RECORD = 16_367;
    static final int CLIENT_HELLO = 1454;

    @Test
    void theFirstRecordCarryingAClientHelloTakesNoCommonSizeOver200Tunnels() {
        Map<Integer, Integer> counts = new HashMap<>();
        SplittableRandom seeds = new SplittableRandom(27);
        for (int tunnel = 0; tunnel < 200; tunnel++) {
            ShapingPolicy policy = new ShapingPolicy(RecordSizes.CLIENT, seeds.split());
            counts.merge(policy.plan(CLIENT_HELLO, RECORD).get(0).size(), 1, Integer::sum);
        }
        assertThat(counts.values().stream().mapToInt(Integer::intValue).max().orElseThrow())
                .as("tunnels whose first record has the most common size")
                .isLessThanOrEqualTo(10);
    }

    @Test
    void everyPendingByteIsPlannedOnceAndNoRecordExceedsTheLayersRecord() {
        ShapingPolicy policy = new ShapingPolicy(RecordSizes.SERVER, new SplittableRandom(1));
        List<ShapingPolicy.Shaped> records = policy.plan(3000, 4096);
        assertThat(records.stream().mapToInt(ShapingPolicy.Shaped::data).sum()).isEqualTo(3000);
        assertThat(records).allSatisfy(record -> {
            assertThat(record.size()).isBetween(ShapingPolicy.MIN_RECORD - 2, 4096);
            assertThat(record.padding() == 0 || record.padding() >= ShapedFrames.HEADER)
                    .as("padding is none or a whole frame")
                    .isTrue();
        });
    }

    @Test
    void aWindowEndsAfterItsBytesAndABurstOpensAnother() {
        ShapingPolicy policy = new ShapingPolicy(RecordSizes.SERVER, new SplittableRandom(2));
        int padded = 0;
        while (policy.shaping()) {
            for (ShapingPolicy.Shaped record : policy.plan(100, RECORD)) {
                padded += record.padding();
            }
        }
        assertThat(padded)
                .as("padding of the opening window, bounded by the window and a record")
                .isPositive()
                .isLessThanOrEqualTo(ShapingPolicy.OPENING_WINDOW + RECORD);
        assertThat(policy.plan(100, RECORD))
                .as("outside a window nothing is shaped")
                .isEmpty();

        policy.burst();

        assertThat(policy.shaping()).isTrue();
        assertThat(policy.plan(100, RECORD)).isNotEmpty();
    }

    @Test
    void closeFramesVaryInSize() {
        ShapingPolicy policy = new ShapingPolicy(RecordSizes.CLIENT, new SplittableRandom(3));
        Map<Integer, Integer> counts = new HashMap<>();
        for (int i = 0; i < 200; i++) {
            counts.merge(policy.closeFrame(RECORD), 1, Integer::sum);
        }
        assertThat(counts.values().stream().mapToInt(Integer::intValue).max().orElseThrow())
                .isLessThanOrEqualTo(10);
    }
}
