package dev.onionrelay.layer.shaping;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;

/**
 * The wire format inside a layer with {@code padding: "on"} (docs/SHAPING.md): every byte the layer carries travels in
 * frames of a 1-byte type, a 2-byte big-endian payload length and the payload. Data frames carry the layer's
 * plaintext; padding and close frames carry filler that the receiving end drops. Negotiated by the ALPN id
 * {@link #ALPN}, so a peer that does not speak it never sees a frame.
 */
public final class ShapedFrames {

    /** The ALPN protocol id both ends of a shaped layer offer and select; the version is part of the id. */
    public static final String ALPN = "onion-shaped/1";

    public static final int HEADER = 3;
    public static final int DATA = 0;
    public static final int PADDING = 1;
    public static final int CLOSE = 2;
    public static final int MAX_PAYLOAD = 0xFFFF;

    private ShapedFrames() {}

    /**
     * A whole filler frame of {@code type} ({@link #PADDING} or {@link #CLOSE}) that takes {@code frameBytes} on the
     * wire, header included ({@code frameBytes >= HEADER}). The filler is zeros: the layer's encryption hides it.
     */
    static ByteBuf filler(ByteBufAllocator alloc, int type, int frameBytes) {
        int length = frameBytes - HEADER;
        ByteBuf frame = alloc.buffer(frameBytes);
        frame.writeByte(type).writeShort(length).writeZero(length);
        return frame;
    }

    /** Appends a filler frame of {@code frameBytes} to {@code out}. */
    static void writeFiller(ByteBuf out, int type, int frameBytes) {
        int length = frameBytes - HEADER;
        out.writeByte(type).writeShort(length).writeZero(length);
    }
}
