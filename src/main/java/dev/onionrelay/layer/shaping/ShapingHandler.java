package dev.onionrelay.layer.shaping;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.CompositeByteBuf;
import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPromise;
import io.netty.handler.codec.DecoderException;
import java.nio.channels.ClosedChannelException;
import java.util.ArrayList;
import java.util.List;
import java.util.function.IntSupplier;
import java.util.function.LongConsumer;

/**
 * The frames of one shaped layer ({@link ShapedFrames}), right inside the layer's TLS handler: what the layer carries
 * is framed on the way out and unframed on the way in, so nothing outside the handler sees a frame and nothing inside
 * it sees anything but the layer's plaintext. Outbound it applies the {@link ShapingPolicy}: inside a shaping window,
 * writes wait for the flush and leave as records of drawn sizes; outside, each write leaves as data frames that fill
 * one record of the layer exactly. Event loop only; the counters are read from any thread.
 *
 * <p>The stack removes this handler before the layer's TLS handler when the layer is popped, so that the bytes after
 * the layer's close_notify (the plaintext of the layer outside, not framed) pass on untouched.
 */
public final class ShapingHandler extends ChannelDuplexHandler {

    private final ShapingPolicy policy;
    private final IntSupplier recordPlaintext;
    private final LongConsumer onPadding;

    private CompositeByteBuf pending;
    private final List<ChannelPromise> pendingPromises = new ArrayList<>();

    /** The frame being read: its type, or -1 while its header is incomplete. */
    private int frameType = -1;

    private int frameLeft;
    private final byte[] header = new byte[ShapedFrames.HEADER];
    private int headerRead;

    private volatile long paddingSent;
    private volatile long paddingReceived;

    /**
     * @param recordPlaintext the plaintext the layer's TLS handler puts in one record (final once its handshake is done)
     * @param onPadding told of the padding and close-frame bytes this end sends (metrics)
     */
    public ShapingHandler(ShapingPolicy policy, IntSupplier recordPlaintext, LongConsumer onPadding) {
        this.policy = policy;
        this.recordPlaintext = recordPlaintext;
        this.onPadding = onPadding;
    }

    /** Padding and close-frame bytes we sent, frame headers included. */
    public long paddingSent() {
        return paddingSent;
    }

    /** Padding and close-frame bytes the peer sent, payload only. */
    public long paddingReceived() {
        return paddingReceived;
    }

    /** A push, pop or teardown starts on the connection: the next bytes are shaped (see {@link ShapingPolicy}). */
    public void burst() {
        policy.burst();
    }

    @Override
    public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
        if (!(msg instanceof ByteBuf bytes) || !bytes.isReadable()) {
            // Not ours to frame: an empty buffer carries a promise only (HalfCloseSslHandler's close_notify).
            ctx.write(msg, promise);
            return;
        }
        if (policy.shaping() || pending != null) {
            if (pending == null) {
                pending = ctx.alloc().compositeBuffer(Integer.MAX_VALUE);
            }
            pending.addComponent(true, bytes);
            pendingPromises.add(promise);
            return;
        }
        writeData(ctx, bytes, promise);
    }

    @Override
    public void flush(ChannelHandlerContext ctx) {
        if (pending != null) {
            writeShaped(ctx);
        }
        ctx.flush();
    }

    /**
     * Sends the close frame that precedes our close_notify on this layer, of a drawn size, and flushes it. Called by the
     * stack right before it closes the layer's outbound side.
     */
    public void sendClose(ChannelHandlerContext ctx) {
        flush(ctx);
        int size = policy.closeFrame(recordPlaintext.getAsInt());
        padded(size);
        ctx.writeAndFlush(ShapedFrames.filler(ctx.alloc(), ShapedFrames.CLOSE, size));
    }

    private void padded(int bytes) {
        paddingSent += bytes;
        onPadding.accept(bytes);
    }

    /**
     * Data frames for {@code bytes}, each filling at most one record, the last completing {@code promise}. Each frame is
     * one contiguous buffer, header and payload copied together: the OpenSSL engine writes every NIO buffer of a
     * composite as a record of its own, so a header composed with its payload left a 25-byte record before every full
     * one (twice the records, and CPU, in bulk; a size pattern of its own on the wire).
     */
    private void writeData(ChannelHandlerContext ctx, ByteBuf bytes, ChannelPromise promise) {
        int maxPayload = Math.min(ShapedFrames.MAX_PAYLOAD, recordPlaintext.getAsInt() - ShapedFrames.HEADER);
        try {
            while (bytes.readableBytes() > maxPayload) {
                ctx.write(frame(ctx, bytes, maxPayload), ctx.voidPromise());
            }
            ctx.write(frame(ctx, bytes, bytes.readableBytes()), promise);
        } finally {
            bytes.release();
        }
    }

    private static ByteBuf frame(ChannelHandlerContext ctx, ByteBuf bytes, int length) {
        ByteBuf frame = ctx.alloc().buffer(ShapedFrames.HEADER + length);
        return frame.writeByte(ShapedFrames.DATA).writeShort(length).writeBytes(bytes, length);
    }

    /**
     * Sends what waited for the flush: as shaped records while the window lasts, each flushed on its own so that the
     * TLS handler does not join them into one record, and the rest as plain data frames.
     */
    private void writeShaped(ChannelHandlerContext ctx) {
        CompositeByteBuf bytes = pending;
        List<ChannelPromise> promises = new ArrayList<>(pendingPromises);
        pending = null;
        pendingPromises.clear();
        ChannelPromise all = ctx.newPromise();
        all.addListener(done -> {
            for (ChannelPromise promise : promises) {
                if (done.isSuccess()) {
                    promise.trySuccess();
                } else {
                    promise.tryFailure(done.cause());
                }
            }
        });
        int maxRecord = recordPlaintext.getAsInt();
        List<ShapingPolicy.Shaped> records = policy.plan(bytes.readableBytes(), maxRecord);
        for (int i = 0; i < records.size(); i++) {
            ShapingPolicy.Shaped shaped = records.get(i);
            ByteBuf record = ctx.alloc().buffer(shaped.size());
            record.writeByte(ShapedFrames.DATA).writeShort(shaped.data()).writeBytes(bytes, shaped.data());
            if (shaped.padding() > 0) {
                ShapedFrames.writeFiller(record, ShapedFrames.PADDING, shaped.padding());
                padded(shaped.padding());
            }
            boolean last = i == records.size() - 1 && !bytes.isReadable();
            ctx.write(record, last ? all : ctx.voidPromise());
            ctx.flush();
        }
        if (bytes.isReadable()) {
            writeData(ctx, bytes, all);
        } else {
            bytes.release();
        }
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (!(msg instanceof ByteBuf in)) {
            ctx.fireChannelRead(msg);
            return;
        }
        try {
            while (in.isReadable() && !ctx.isRemoved()) {
                if (frameType < 0) {
                    int n = Math.min(ShapedFrames.HEADER - headerRead, in.readableBytes());
                    in.readBytes(header, headerRead, n);
                    headerRead += n;
                    if (headerRead < ShapedFrames.HEADER) {
                        return;
                    }
                    headerRead = 0;
                    startFrame(header[0] & 0xFF, (header[1] & 0xFF) << 8 | header[2] & 0xFF);
                    continue;
                }
                int n = Math.min(frameLeft, in.readableBytes());
                if (frameType == ShapedFrames.DATA) {
                    ctx.fireChannelRead(in.readRetainedSlice(n));
                } else {
                    in.skipBytes(n);
                    paddingReceived += n;
                }
                frameLeft -= n;
                if (frameLeft == 0) {
                    frameType = -1;
                }
            }
        } finally {
            in.release();
        }
    }

    private void startFrame(int type, int length) {
        if (type > ShapedFrames.CLOSE) {
            throw new DecoderException("unknown frame type " + type + " on a shaped layer");
        }
        frameType = length == 0 ? -1 : type;
        frameLeft = length;
    }

    @Override
    public void handlerRemoved(ChannelHandlerContext ctx) {
        if (pending != null) {
            // Popped or torn down with writes that never reached a flush: they cannot be sent through this layer.
            pending.release();
            pending = null;
            ClosedChannelException closed = new ClosedChannelException();
            pendingPromises.forEach(promise -> promise.tryFailure(closed));
            pendingPromises.clear();
        }
    }
}
