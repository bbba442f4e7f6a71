package dev.onionrelay.bench;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The load generator: blocking NIO sockets from the benchmark process into a tunnel's entry port. It keeps its own
 * work small (one pre-made direct buffer written over and over, digests precomputed) so that it is not what limits
 * the figures; the "direct" row (load generator straight into the sink) shows its ceiling.
 */
final class Load {

    static final int BLOCK = 1 << 20;

    /**
     * How long a measurement may wait for bytes that should have come back. A tunnel that loses bytes leaves the sink
     * (or an echo) waiting for ever; past this, the run fails instead of hanging.
     */
    static final Duration STALL = Duration.ofSeconds(120);

    private static final InetSocketAddress LOOPBACK = new InetSocketAddress("127.0.0.1", 0);

    /** One MiB of random bytes, sent repeatedly; the SHA-256 of every power-of-two prefix is computed once. */
    static final class Payload {

        private final ByteBuffer block;
        private final byte[] bytes;
        private final MessageDigest running = Sink.sha256();
        private long hashedBlocks;
        private final Map<Long, byte[]> digests = new HashMap<>();

        Payload(long seed) {
            bytes = new byte[BLOCK];
            new Random(seed).nextBytes(bytes);
            block = ByteBuffer.allocateDirect(BLOCK);
            block.put(bytes).flip();
        }

        ByteBuffer block() {
            return block.duplicate();
        }

        /** SHA-256 of {@code blocks} repetitions of the block; {@code blocks} is a power of two. */
        synchronized byte[] digest(long blocks) {
            byte[] known = digests.get(blocks);
            if (known != null) {
                return known;
            }
            while (hashedBlocks < blocks) {
                running.update(bytes);
                hashedBlocks++;
                if (Long.bitCount(hashedBlocks) == 1) {
                    try {
                        digests.put(hashedBlocks, ((MessageDigest) running.clone()).digest());
                    } catch (CloneNotSupportedException e) {
                        throw new IllegalStateException(e);
                    }
                }
            }
            return digests.get(blocks);
        }
    }

    /** A run whose bytes did not come back as sent. */
    static final class IntegrityFailure extends RuntimeException {
        private static final long serialVersionUID = 1L;

        IntegrityFailure(String message) {
            super(message);
        }
    }

    record Throughput(long bytes, long nanos) {
        double megabytesPerSecond() {
            return bytes / (nanos / 1e9) / 1e6;
        }
    }

    /**
     * Sends {@code blocksPerStream} MiB on each of {@code streams} connections at once and waits for each sink's
     * count and SHA-256. Set-up is excluded: each connection first completes a one-byte sink round trip.
     */
    static Throughput throughput(int port, Payload payload, long blocksPerStream, int streams) throws Exception {
        byte[] expected = payload.digest(blocksPerStream);
        byte[] oneByte = Arrays.copyOf(payload.bytes, 1);
        byte[] oneByteDigest = Sink.sha256().digest(oneByte);
        CyclicBarrier start = new CyclicBarrier(streams + 1);
        ExecutorService pool = Executors.newFixedThreadPool(streams);
        List<Future<Long>> done = new ArrayList<>();
        try {
            for (int s = 0; s < streams; s++) {
                done.add(pool.submit(() -> {
                    try (SocketChannel channel = open(port)) {
                        try {
                            writeFully(channel, header(Wire.SINK, 1));
                            writeFully(channel, ByteBuffer.wrap(oneByte));
                            checkAnswer(readAnswer(channel), 1, oneByteDigest);
                        } catch (IOException | RuntimeException e) {
                            start.reset(); // Lets the others, and the caller, see the failure now.
                            throw e;
                        }
                        start.await();
                        writeFully(channel, header(Wire.SINK, blocksPerStream * BLOCK));
                        for (long b = 0; b < blocksPerStream; b++) {
                            writeFully(channel, payload.block());
                        }
                        checkAnswer(readAnswer(channel), blocksPerStream * BLOCK, expected);
                        return System.nanoTime();
                    }
                }));
            }
            try {
                start.await(STALL.toMillis(), TimeUnit.MILLISECONDS);
            } catch (java.util.concurrent.BrokenBarrierException broken) {
                for (Future<Long> f : done) {
                    f.get(STALL.toMillis(), TimeUnit.MILLISECONDS); // Throws the stream's own failure.
                }
                throw broken;
            }
            long began = System.nanoTime();
            long deadline = began + STALL.toNanos();
            long ended = 0;
            for (Future<Long> f : done) {
                ended = Math.max(ended, f.get(Math.max(1, deadline - System.nanoTime()), TimeUnit.NANOSECONDS));
            }
            return new Throughput(blocksPerStream * BLOCK * streams, ended - began);
        } catch (TimeoutException e) {
            throw new IntegrityFailure("no count and SHA-256 from the sink after " + STALL.toSeconds()
                    + " s: bytes were lost or the tunnel stalled");
        } catch (ExecutionException e) {
            if (e.getCause() instanceof IntegrityFailure integrity) {
                throw integrity;
            }
            throw e;
        } finally {
            pool.shutdownNow();
        }
    }

    /** {@code tunnels} completed in the measured window; {@code all} including the warm-up. */
    record SetupRate(long tunnels, long all, long failures, long nanos) {
        double perSecond() {
            return tunnels / (nanos / 1e9);
        }
    }

    /**
     * Opens tunnels as fast as {@code concurrency} clients can, each one carrying a 64-byte echo that must come back
     * intact before the client closes it. Counts the tunnels completed in the measured window.
     */
    static SetupRate setupRate(int port, int concurrency, Duration warmup, Duration measure) throws Exception {
        AtomicLong completed = new AtomicLong();
        AtomicLong all = new AtomicLong();
        AtomicLong failed = new AtomicLong();
        AtomicReference<IntegrityFailure> corrupted = new AtomicReference<>();
        long measureFrom = System.nanoTime() + warmup.toNanos();
        long until = measureFrom + measure.toNanos();
        ExecutorService pool = Executors.newFixedThreadPool(concurrency);
        CountDownLatch finished = new CountDownLatch(concurrency);
        for (int c = 0; c < concurrency; c++) {
            int seed = c;
            pool.execute(() -> {
                byte[] message = new byte[64];
                new Random(seed).nextBytes(message);
                ByteBuffer answer = ByteBuffer.allocate(64);
                try {
                    while (System.nanoTime() < until && corrupted.get() == null) {
                        try (SocketChannel channel = open(port)) {
                            writeFully(channel, header(Wire.ECHO, 0));
                            writeFully(channel, ByteBuffer.wrap(message));
                            answer.clear();
                            readFully(channel, answer);
                            if (!Arrays.equals(answer.array(), message)) {
                                corrupted.set(new IntegrityFailure("echo through a new tunnel came back different"));
                            }
                            all.incrementAndGet();
                            long now = System.nanoTime();
                            if (now >= measureFrom && now < until) {
                                completed.incrementAndGet();
                            }
                        } catch (IOException e) {
                            if (System.nanoTime() >= measureFrom) {
                                failed.incrementAndGet();
                            }
                        }
                    }
                } finally {
                    finished.countDown();
                }
            });
        }
        boolean done = finished.await(warmup.plus(measure).plus(STALL).toMillis(), TimeUnit.MILLISECONDS);
        pool.shutdownNow();
        if (!done) {
            throw new IntegrityFailure("a set-up client waited " + STALL.toSeconds() + " s for its echo");
        }
        if (corrupted.get() != null) {
            throw corrupted.get();
        }
        return new SetupRate(completed.get(), all.get(), failed.get(), measure.toNanos());
    }

    record Latency(long samples, double p50Micros, double p99Micros) {}

    /** Ping-pong of {@code size}-byte messages on one tunnel; every echo is compared with what was sent. */
    static Latency pingPong(int port, Payload payload, int size, Duration warmup, Duration measure)
            throws Exception {
        ExecutorService runner = Executors.newSingleThreadExecutor();
        try {
            return runner.submit(() -> pingPongNow(port, payload, size, warmup, measure))
                    .get(warmup.plus(measure).plus(STALL).toMillis(), TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            throw new IntegrityFailure("a ping-pong echo did not come back within " + STALL.toSeconds() + " s");
        } catch (ExecutionException e) {
            if (e.getCause() instanceof Exception cause) {
                throw cause;
            }
            throw e;
        } finally {
            runner.shutdownNow();
        }
    }

    private static Latency pingPongNow(int port, Payload payload, int size, Duration warmup, Duration measure)
            throws IOException {
        try (SocketChannel channel = open(port)) {
            writeFully(channel, header(Wire.ECHO, 0));
            ByteBuffer answer = ByteBuffer.allocateDirect(size);
            long[] samples = new long[1 << 20];
            int count = 0;
            long measureFrom = System.nanoTime() + warmup.toNanos();
            long until = measureFrom + measure.toNanos();
            for (long i = 0; ; i++) {
                int offset = (int) ((i * 1031) % (BLOCK - size));
                ByteBuffer message = payload.block().position(offset).limit(offset + size);
                ByteBuffer sent = message.duplicate();
                long began = System.nanoTime();
                if (began >= until || count == samples.length) {
                    break;
                }
                writeFully(channel, message);
                answer.clear();
                readFully(channel, answer);
                long took = System.nanoTime() - began;
                answer.flip();
                if (!answer.equals(sent)) {
                    throw new IntegrityFailure("ping-pong echo " + i + " came back different");
                }
                if (began >= measureFrom) {
                    samples[count++] = took;
                }
            }
            long[] taken = Arrays.copyOf(samples, count);
            Arrays.sort(taken);
            return new Latency(count, percentile(taken, 0.50) / 1e3, percentile(taken, 0.99) / 1e3);
        }
    }

    private static double percentile(long[] sorted, double p) {
        if (sorted.length == 0) {
            return Double.NaN;
        }
        return sorted[Math.min(sorted.length - 1, (int) Math.ceil(p * sorted.length) - 1)];
    }

    /** Tunnels held open without traffic, and why opening more failed, if it did. */
    record Idle(List<SocketChannel> channels, Exception failure) {}

    /**
     * Opens up to {@code count} tunnels and leaves them idle; each one proved end to end by a 16-byte echo. Stops at
     * the first failure (a contender that cannot hold that many) and returns what it has.
     */
    static Idle openIdle(int port, int count, int parallelism) throws Exception {
        return openIdle(port, count, parallelism, 0);
    }

    /** As {@link #openIdle(int, int, int)}, with {@code socketBuffer} bytes of kernel buffer each way (0: default). */
    static Idle openIdle(int port, int count, int parallelism, int socketBuffer) throws Exception {
        ConcurrentLinkedQueue<SocketChannel> opened = new ConcurrentLinkedQueue<>();
        ExecutorService pool = Executors.newFixedThreadPool(parallelism);
        AtomicLong next = new AtomicLong();
        AtomicReference<Exception> failure = new AtomicReference<>();
        List<Future<?>> workers = new ArrayList<>();
        for (int w = 0; w < parallelism; w++) {
            workers.add(pool.submit(() -> {
                byte[] message = new byte[16];
                ByteBuffer answer = ByteBuffer.allocate(16);
                while (next.getAndIncrement() < count && failure.get() == null) {
                    SocketChannel channel = null;
                    try {
                        channel = open(port, socketBuffer);
                        new Random(next.get()).nextBytes(message);
                        writeFully(channel, header(Wire.ECHO, 0));
                        writeFully(channel, ByteBuffer.wrap(message));
                        answer.clear();
                        readFully(channel, answer);
                        if (!Arrays.equals(answer.array(), message)) {
                            throw new IntegrityFailure("echo through an idle tunnel came back different");
                        }
                        opened.add(channel);
                    } catch (IntegrityFailure e) {
                        throw e;
                    } catch (Exception e) {
                        failure.compareAndSet(null, e);
                        if (channel != null) {
                            channel.close();
                        }
                    }
                }
                return null;
            }));
        }
        try {
            long deadline = System.nanoTime() + STALL.toNanos() * 5;
            for (Future<?> w : workers) {
                w.get(Math.max(1, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
            }
        } catch (TimeoutException e) {
            closeAll(new ArrayList<>(opened));
            throw new IntegrityFailure("opening idle tunnels stalled: an echo did not come back");
        } catch (ExecutionException e) {
            closeAll(new ArrayList<>(opened));
            if (e.getCause() instanceof IntegrityFailure integrity) {
                throw integrity;
            }
            throw e;
        } finally {
            pool.shutdownNow();
        }
        return new Idle(new ArrayList<>(opened), failure.get());
    }

    static void closeAll(List<SocketChannel> channels) {
        for (SocketChannel channel : channels) {
            try {
                channel.close();
            } catch (IOException ignored) {
                // Closing anyway.
            }
        }
    }

    static SocketChannel open(int port) throws IOException {
        return open(port, 0);
    }

    static SocketChannel open(int port, int socketBuffer) throws IOException {
        SocketChannel channel = SocketChannel.open();
        try {
            channel.setOption(StandardSocketOptions.TCP_NODELAY, true);
            if (socketBuffer > 0) {
                channel.setOption(StandardSocketOptions.SO_RCVBUF, socketBuffer);
                channel.setOption(StandardSocketOptions.SO_SNDBUF, socketBuffer);
            }
            channel.socket().connect(new InetSocketAddress(LOOPBACK.getAddress(), port), 5000);
            return channel;
        } catch (IOException e) {
            channel.close();
            throw e;
        }
    }

    static ByteBuffer header(byte operation, long length) {
        return ByteBuffer.allocate(Wire.HEADER_BYTES).put(operation).putLong(length).flip();
    }

    static void writeFully(SocketChannel channel, ByteBuffer buffer) throws IOException {
        while (buffer.hasRemaining()) {
            channel.write(buffer);
        }
    }

    static void readFully(SocketChannel channel, ByteBuffer buffer) throws IOException {
        while (buffer.hasRemaining()) {
            if (channel.read(buffer) < 0) {
                throw new IOException("tunnel closed after " + buffer.position() + " of " + buffer.limit() + " bytes");
            }
        }
    }

    private static ByteBuffer readAnswer(SocketChannel channel) throws IOException {
        ByteBuffer answer = ByteBuffer.allocate(Wire.ANSWER_BYTES);
        readFully(channel, answer);
        return answer.flip();
    }

    private static void checkAnswer(ByteBuffer answer, long sent, byte[] expected) {
        long counted = answer.getLong();
        byte[] digest = new byte[32];
        answer.get(digest);
        if (counted != sent) {
            throw new IntegrityFailure("sent " + sent + " bytes, the sink counted " + counted);
        }
        if (!Arrays.equals(digest, expected)) {
            throw new IntegrityFailure("the sink's SHA-256 of " + sent + " bytes differs from the sent bytes'");
        }
    }
}
