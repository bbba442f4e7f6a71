package dev.onionrelay.relay;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.channel.Channel;
import io.netty.channel.ChannelConfig;
import io.netty.channel.RecvByteBufAllocator;
import io.netty.util.UncheckedBooleanSupplier;
import java.util.function.Supplier;
import org.jspecify.annotations.Nullable;

/**
 * How much one socket read of a tunnel takes: adaptive, as Netty's default, up to {@link OnionEngine#MAX_READ}, and
 * never more than the channel the bytes go to can still take before its high water mark ({@link
 * Channel#bytesBeforeUnwritable()}), with {@link #MIN_READ} as the floor.
 *
 * <p>Why: reads stop once the other channel is unwritable, but only after the read that made it so. With reads of up to
 * 256 KiB and a 256 KiB mark, a slow reader held up to twice the mark per direction (the mark and one read beyond it),
 * and the decoder of the reading side could keep the whole last read buffer for one partial TLS record: issue 22
 * measured 1.4 MiB of resident memory per stalled depth-2 tunnel. A read sized to the room left keeps what is queued at
 * the mark. A stream that flows finds the other channel drained to the kernel at every read, so its reads keep their
 * full size.
 *
 * <p>The floor lets the tunnel read on where it must although the other side is full: the answer to a pop (see {@link
 * PopAnswerReads}) and the bytes a closing tunnel reads and drops. It also bounds the overshoot: at most {@link
 * #MIN_READ} beyond the mark.
 */
final class TunnelReads implements RecvByteBufAllocator {

    /** The smallest read: one full TLS record fits. */
    static final int MIN_READ = 16 * 1024 + 512;

    private static final RecvByteBufAllocator ADAPTIVE = OnionEngine.READS;

    private final Supplier<@Nullable Channel> destination;

    private TunnelReads(Supplier<@Nullable Channel> destination) {
        this.destination = destination;
    }

    /** Reads bounded by the room left in {@code destination}: the channel the read bytes go to. */
    static TunnelReads into(Channel destination) {
        return new TunnelReads(() -> destination);
    }

    /**
     * Reads bounded by the room left in the channel {@code destination} names when a read starts; unbounded (the
     * adaptive size alone) while it names none, as during set-up, when the tunnel holds at most one read anyway.
     */
    static TunnelReads into(Supplier<@Nullable Channel> destination) {
        return new TunnelReads(destination);
    }

    @Override
    public Handle newHandle() {
        return new Bounded((ExtendedHandle) ADAPTIVE.newHandle(), destination);
    }

    /** Netty's adaptive handle, with the guess capped by the room left downstream. */
    private static final class Bounded implements ExtendedHandle {

        private final ExtendedHandle adaptive;
        private final Supplier<@Nullable Channel> destination;

        Bounded(ExtendedHandle adaptive, Supplier<@Nullable Channel> destination) {
            this.adaptive = adaptive;
            this.destination = destination;
        }

        @Override
        public ByteBuf allocate(ByteBufAllocator alloc) {
            return alloc.ioBuffer(guess());
        }

        @Override
        public int guess() {
            int guess = adaptive.guess();
            Channel to = destination.get();
            if (to == null) {
                return guess;
            }
            return (int) Math.max(MIN_READ, Math.min(guess, to.bytesBeforeUnwritable()));
        }

        @Override
        public void reset(ChannelConfig config) {
            adaptive.reset(config);
        }

        @Override
        public void incMessagesRead(int numMessages) {
            adaptive.incMessagesRead(numMessages);
        }

        @Override
        public void lastBytesRead(int bytes) {
            adaptive.lastBytesRead(bytes);
        }

        @Override
        public int lastBytesRead() {
            return adaptive.lastBytesRead();
        }

        @Override
        public void attemptedBytesRead(int bytes) {
            adaptive.attemptedBytesRead(bytes);
        }

        @Override
        public int attemptedBytesRead() {
            return adaptive.attemptedBytesRead();
        }

        @Override
        public boolean continueReading() {
            return adaptive.continueReading();
        }

        @Override
        public boolean continueReading(UncheckedBooleanSupplier maybeMoreDataSupplier) {
            return adaptive.continueReading(maybeMoreDataSupplier);
        }

        @Override
        public void readComplete() {
            adaptive.readComplete();
        }
    }
}
