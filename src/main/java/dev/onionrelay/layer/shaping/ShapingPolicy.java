package dev.onionrelay.layer.shaping;

import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * What one end of one shaped layer pads, and to which sizes: pure decisions, so that they can be checked without a
 * connection. The {@link ShapingHandler} applies them.
 *
 * <p>Shaping happens in windows: the first {@link #OPENING_WINDOW} bytes each end sends on the layer (they carry the
 * inner layers' handshakes) and {@link #BURST_WINDOW} bytes after every push, pop and teardown on the connection.
 * Inside a window, each flush of pending bytes leaves as records whose sizes are drawn from {@link RecordSizes}: a
 * record carries as much data as its size allows and is filled up with a padding frame, and data longer than one
 * record is split over several. Outside a window, data frames pass with their 3-byte header only. A window counts
 * what it puts on the wire, padding included, so the padding one window can add is bounded by its size.
 */
public final class ShapingPolicy {

    /** Bytes each end shapes at the start of the layer: more than two inner handshakes with client certificates. */
    public static final int OPENING_WINDOW = 16 * 1024;

    /** Bytes each end shapes after a push, a pop or at teardown: one inner handshake or close_notify exchange. */
    public static final int BURST_WINDOW = 8 * 1024;

    /** The smallest record a window emits: a data frame with one byte and an empty padding frame fit. */
    static final int MIN_RECORD = 2 * ShapedFrames.HEADER + 1;

    private static final SecureRandom SEEDS = new SecureRandom();

    private final RecordSizes sizes;
    private final SplittableRandom random;
    private int window = OPENING_WINDOW;

    /** One end's policy, with a random stream of its own: every tunnel draws its sizes independently. */
    public ShapingPolicy(RecordSizes sizes) {
        this(sizes, new SplittableRandom(SEEDS.nextLong()));
    }

    ShapingPolicy(RecordSizes sizes, SplittableRandom random) {
        this.sizes = sizes;
        this.random = random;
    }

    /** Whether writes are shaped now. */
    public boolean shaping() {
        return window > 0;
    }

    /** A push, pop or teardown starts: shape the next bytes again. */
    public void burst() {
        window = Math.max(window, BURST_WINDOW);
    }

    /**
     * One shaped record: {@code data} bytes in a data frame, then a padding frame of {@code padding} bytes, header
     * included (0 for none).
     */
    public record Shaped(int data, int padding) {

        /** Plaintext of the record: what the layer encrypts into one record. */
        public int size() {
            return ShapedFrames.HEADER + data + padding;
        }
    }

    /**
     * The records for {@code pending} bytes flushed now, each at most {@code maxRecord} bytes. Covers as much of
     * {@code pending} as the window allows; the caller sends the rest as plain data frames.
     */
    public List<Shaped> plan(int pending, int maxRecord) {
        List<Shaped> records = new ArrayList<>();
        while (pending > 0 && window > 0) {
            int size = Math.max(MIN_RECORD, Math.min(maxRecord, sizes.draw(random)));
            int data = Math.min(pending, size - ShapedFrames.HEADER);
            int rest = size - ShapedFrames.HEADER - data;
            // A rest below a frame header cannot be a frame: that record comes out a byte or two shorter.
            int padding = rest >= ShapedFrames.HEADER ? rest : 0;
            records.add(new Shaped(data, padding));
            pending -= data;
            window -= size;
        }
        return records;
    }

    /**
     * The size of the close frame that precedes our close_notify on the layer, header included: drawn like any shaped
     * record, so that the teardown is no fixed pair of sizes.
     */
    public int closeFrame(int maxRecord) {
        return Math.max(ShapedFrames.HEADER, Math.min(maxRecord, sizes.draw(random)));
    }
}
