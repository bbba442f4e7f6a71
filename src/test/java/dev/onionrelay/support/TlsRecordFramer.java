package dev.onionrelay.support;

import java.util.function.Consumer;

/**
 * Finds TLS record boundaries in one direction of a byte stream fed in arbitrary chunks (TCP segments, reads), the
 * way a passive observer does: a record is a 5-byte header (content type, version, length) and {@code length} bytes.
 * A header split across chunks, or a record spread over many, is reassembled; several records in one chunk are each
 * reported. Each record is reported once its header is complete, with the time of the chunk that completed it.
 */
public final class TlsRecordFramer {

    /** One record as seen on the wire: its content type and its length, header included. */
    public record Frame(int contentType, int wireLength, long nanos) {}

    static final int HEADER = 5;

    private final Consumer<Frame> frames;
    private final byte[] header = new byte[HEADER];
    private int headerFilled;
    private long payloadLeft;
    private boolean broken;

    public TlsRecordFramer(Consumer<Frame> frames) {
        this.frames = frames;
    }

    /** Takes the next {@code length} bytes of the stream, read at {@code nanos} ({@link System#nanoTime()}). */
    public void accept(byte[] chunk, int offset, int length, long nanos) {
        int at = offset;
        int end = offset + length;
        while (at < end && !broken) {
            if (payloadLeft > 0) {
                int skipped = (int) Math.min(payloadLeft, end - at);
                payloadLeft -= skipped;
                at += skipped;
                continue;
            }
            header[headerFilled++] = chunk[at++];
            if (headerFilled == HEADER) {
                headerFilled = 0;
                int contentType = header[0] & 0xff;
                int payload = (header[3] & 0xff) << 8 | header[4] & 0xff;
                // Content types 20-24 with major version 3: anything else is not TLS (or we lost the framing), and
                // every later "record" would be noise, so the observer stops here.
                if (contentType < 20 || contentType > 24 || header[1] != 3) {
                    broken = true;
                    return;
                }
                payloadLeft = payload;
                frames.accept(new Frame(contentType, HEADER + payload, nanos));
            }
        }
    }

    /** Whether the stream stopped looking like TLS records (then nothing more is reported). */
    public boolean broken() {
        return broken;
    }
}
