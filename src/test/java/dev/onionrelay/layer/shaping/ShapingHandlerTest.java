package dev.onionrelay.layer.shaping;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import java.util.Random;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * The frames on their own: what one end's handler writes, the other end's handler reads back unchanged, whatever the
 * window, however the bytes are cut on the way; padding and close frames never come out.
 */
class ShapingHandlerTest {

    static final int RECORD = 4096;

    @Test
    void whatOneEndFramesTheOtherUnframesByteForByteInAnyCut() {
        EmbeddedChannel sender = new EmbeddedChannel(new ShapingHandler(
                new ShapingPolicy(RecordSizes.CLIENT, new SplittableRandom(5)), () -> RECORD, bytes -> {}));
        EmbeddedChannel receiver = new EmbeddedChannel(new ShapingHandler(
                new ShapingPolicy(RecordSizes.SERVER, new SplittableRandom(6)), () -> RECORD, bytes -> {}));
        byte[] sent = new byte[200_000];
        new Random(7).nextBytes(sent);
        // Writes of many sizes, inside the opening window and after it.
        for (int at = 0, size = 1; at < sent.length; at += size, size = size * 3 % 9001 + 1) {
            sender.writeAndFlush(Unpooled.wrappedBuffer(sent, at, Math.min(size, sent.length - at)));
        }
        ShapingHandler sending = sender.pipeline().get(ShapingHandler.class);
        sending.sendClose(sender.pipeline().context(ShapingHandler.class));

        ByteBuf wire = Unpooled.buffer();
        for (ByteBuf record; (record = sender.readOutbound()) != null; ) {
            assertThat(record.readableBytes()).as("no frame overflows a record").isLessThanOrEqualTo(RECORD);
            // The OpenSSL engine writes every NIO buffer of a write as a record of its own: a frame header apart from
            // its payload would leave a 25-byte record before every full one.
            assertThat(record.nioBufferCount())
                    .as("one record's bytes in one buffer")
                    .isEqualTo(1);
            wire.writeBytes(record);
            record.release();
        }
        long framed = wire.readableBytes();
        Random cuts = new Random(8);
        while (wire.isReadable()) {
            receiver.writeInbound(wire.readRetainedSlice(Math.min(wire.readableBytes(), 1 + cuts.nextInt(5000))));
        }
        wire.release();
        ByteBuf received = Unpooled.buffer();
        for (ByteBuf part; (part = receiver.readInbound()) != null; ) {
            received.writeBytes(part);
            part.release();
        }

        byte[] unframed = new byte[received.readableBytes()];
        received.readBytes(unframed);
        assertThat(unframed).isEqualTo(sent);
        ShapingHandler receiving = receiver.pipeline().get(ShapingHandler.class);
        assertThat(sending.paddingSent()).isPositive();
        assertThat(receiving.paddingReceived()).isPositive();
        assertThat(framed).isGreaterThan(sent.length + sending.paddingSent());
    }
}
