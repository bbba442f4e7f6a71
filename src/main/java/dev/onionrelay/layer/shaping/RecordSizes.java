package dev.onionrelay.layer.shaping;

import java.util.SplittableRandom;

/**
 * The sizes shaped records are drawn from: mixtures shaped like the first application records of ordinary HTTPS, one
 * per direction (docs/SHAPING.md has the reasoning and the limits). Sizes are the plaintext of one record of the
 * shaped layer, frame headers included; the wire adds the record's constant overhead.
 *
 * <ul>
 *   <li>{@link #CLIENT}: what a client sends first: short API and curl requests, browser requests with their
 *       headers and cookies, and requests with a body.
 *   <li>{@link #SERVER}: what a server answers with: short answers and redirects, pages, and full records of a larger
 *       body.
 * </ul>
 *
 * Each component is uniform over its range, so that no single size stands out: over 200 tunnels the most frequent
 * first-record size covers a few tunnels at most (ShapingPolicyTest).
 */
public enum RecordSizes {
    CLIENT(new int[] {35, 50, 15}, new int[] {90, 400, 400, 1600, 1600, 4000}),
    SERVER(new int[] {25, 35, 40}, new int[] {200, 1200, 1200, 6000, 6000, 16000});

    private final int[] weights;
    private final int[] ranges;

    RecordSizes(int[] weights, int[] ranges) {
        this.weights = weights;
        this.ranges = ranges;
    }

    /** One record size, drawn from this mixture. */
    int draw(SplittableRandom random) {
        int pick = random.nextInt(100);
        int component = 0;
        while (pick >= weights[component]) {
            pick -= weights[component];
            component++;
        }
        return random.nextInt(ranges[2 * component], ranges[2 * component + 1] + 1);
    }
}
