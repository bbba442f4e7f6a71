package dev.onionrelay.bench;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * Clients that write as fast as they can into echo tunnels and read nothing back (issue 22's slow readers): every
 * buffer on the way fills, in both directions, until the echo target is blocked writing and stops reading, and the
 * client's own writes block. What the relays then hold per tunnel is what a slow reader costs them.
 *
 * <p>Afterwards every client reads its echo back and compares it with what it wrote, so a relay that bounds its
 * buffers by dropping bytes fails the run.
 */
final class SlowReaders implements AutoCloseable {

    /** The pattern the clients write: a random block whose length is prime, so that no power-of-two shift matches. */
    private static final int PATTERN = 65_521;

    /**
     * Bytes a client writes per round (about every 5 ms, at most 1.6 MB/s per tunnel). Written as fast as possible,
     * the relays' sockets autotune their kernel buffers before the stall arrives (about 33 MB per stalled tunnel where
     * tcp_rmem allows 32 MB: 100 tunnels went past tcp_mem's pressure mark, where loopback drops segments and waits
     * out retransmission timeouts); paced, they stay near their defaults. What the relays hold in user space once
     * everything stalls is the same either way.
     */
    private static final int PACE = 8 * 1024;

    private final byte[] pattern = new byte[PATTERN];
    private final List<SocketChannel> channels;
    private final long[] written;

    private SlowReaders(List<SocketChannel> channels) {
        this.channels = channels;
        this.written = new long[channels.size()];
        new Random(22).nextBytes(pattern);
    }

    /** Opens {@code count} echo tunnels (each proved by a small echo) through {@code port}. */
    static SlowReaders open(int port, int count) throws Exception {
        // Small kernel buffers on the clients' side (see PACE for the relays').
        Load.Idle idle = Load.openIdle(port, count, 16, 64 * 1024);
        if (idle.failure() != null) {
            Load.closeAll(idle.channels());
            throw new IOException("could open only " + idle.channels().size() + " of " + count + " tunnels",
                    idle.failure());
        }
        return new SlowReaders(idle.channels());
    }

    int count() {
        return channels.size();
    }

    /**
     * Writes into every tunnel, never reading, until no tunnel has taken a byte for {@code quiet} (everything on the
     * way is full), or {@code limit} passed.
     *
     * @return bytes written over all tunnels
     */
    long fill(Duration quiet, Duration limit) throws IOException {
        for (SocketChannel channel : channels) {
            channel.configureBlocking(false);
        }
        ByteBuffer chunk = ByteBuffer.allocateDirect(PATTERN);
        long end = System.nanoTime() + limit.toNanos();
        long lastProgress = System.nanoTime();
        while (System.nanoTime() - lastProgress < quiet.toNanos() && System.nanoTime() < end) {
            boolean progress = false;
            for (int i = 0; i < channels.size(); i++) {
                int offset = (int) (written[i] % PATTERN);
                chunk.clear().put(pattern, offset, PATTERN - offset).put(pattern, 0, offset).flip().limit(PACE);
                int n = channels.get(i).write(chunk);
                if (n > 0) {
                    written[i] += n;
                    progress = true;
                }
            }
            if (progress) {
                lastProgress = System.nanoTime();
            }
            sleep(5);
        }
        long total = 0;
        for (long w : written) {
            total += w;
        }
        return total;
    }

    /** Reads every tunnel's echo back in full and compares it with what was written; throws on a difference. */
    void verifyEcho(Duration limit) throws IOException {
        for (SocketChannel channel : channels) {
            channel.configureBlocking(false);
        }
        long[] read = new long[channels.size()];
        long[] sent = written.clone();
        ByteBuffer buffer = ByteBuffer.allocate(256 * 1024);
        long end = System.nanoTime() + limit.toNanos();
        boolean done = false;
        while (!done) {
            if (System.nanoTime() > end) {
                throw new Load.IntegrityFailure("slow readers: the echo of what was written did not all come back in "
                        + limit.toSeconds() + " s");
            }
            done = true;
            boolean progress = false;
            for (int i = 0; i < channels.size(); i++) {
                SocketChannel channel = channels.get(i);
                if (read[i] < sent[i]) {
                    buffer.clear();
                    int n = channel.read(buffer);
                    if (n < 0) {
                        throw new Load.IntegrityFailure("slow readers: a tunnel closed after " + read[i] + " of "
                                + sent[i] + " echoed bytes");
                    }
                    for (int k = 0; k < n; k++) {
                        if (buffer.get(k) != pattern[(int) ((read[i] + k) % PATTERN)]) {
                            throw new Load.IntegrityFailure("slow readers: echoed byte " + (read[i] + k)
                                    + " differs from the byte written");
                        }
                    }
                    read[i] += n;
                    progress |= n > 0;
                    done &= read[i] == sent[i];
                }
            }
            if (!progress) {
                sleep(5);
            }
        }
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    @Override
    public void close() {
        Load.closeAll(new ArrayList<>(channels));
    }
}
