package dev.onionrelay.bench.micro;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.ssl.SslProvider;
import java.io.File;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.zip.CRC32C;

/**
 * A micro view of one question: what does it cost to nest TLS layers in one Netty pipeline, and does it matter how
 * the inner layers' record sizes line up with the outer ones? No sockets: a client pipeline of N {@link SslHandler}s
 * (the entry relay's egress stack) and a server pipeline of N (the exit relay's ingress stack), in two
 * {@link EmbeddedChannel}s on one thread, bytes moved between them by hand. CPU time is the thread's own, so other
 * load on the machine changes it little.
 *
 * <p>Record sizing, per layer {@code i} (0 = outermost), plaintext bytes per record:
 *
 * <ul>
 *   <li>{@code margin}: {@code 16384 - 64 * i}, the engine's current rule (RecordSizing.RECORD_OVERHEAD_PER_LAYER).
 *   <li>{@code exact}: {@link #exact}, so that an inner record is exactly the plaintext of one outer record.
 * </ul>
 *
 * <p>Usage: {@code RecordAlignment <pki-dir> [MiB per run] [runs]}, with the certificates of {@code bench/run}'s
 * work directory ({@code ca.crt}, {@code layer<i>.crt}, {@code layer<i>.key}).
 */
public final class RecordAlignment {

    private static final int CHUNK = 64 * 1024;
    private static final ThreadMXBean THREADS = ManagementFactory.getThreadMXBean();

    record Result(double sealSeconds, double openSeconds, double wallSeconds, long bytes, long outerRecords) {}

    public static void main(String[] args) throws Exception {
        File pki = new File(args[0]);
        int mib = args.length > 1 ? Integer.parseInt(args[1]) : 256;
        int runs = args.length > 2 ? Integer.parseInt(args[2]) : 5;
        byte[] random = new byte[CHUNK];
        new Random(1).nextBytes(random);
        ByteBuf payload = ByteBufAllocator.DEFAULT.directBuffer(CHUNK).writeBytes(random);

        List<String> sizings = List.of("margin", "exact");
        System.out.println("CPU seconds per GB of plaintext, thread CPU time; " + runs + " runs of " + mib
                + " MiB per sizing after one warm-up run, in rotating order; seal = client stack writes, open ="
                + " server stack reads; min and median of seal + open");
        System.out.printf(Locale.ROOT, "%-8s %5s %-7s %9s %9s %9s %9s%n",
                "provider", "depth", "sizing", "seal", "open", "min", "median");
        for (SslProvider provider : List.of(SslProvider.OPENSSL, SslProvider.JDK)) {
            for (int depth = 1; depth <= 3; depth++) {
                for (String sizing : sizings) {
                    verify(pki, provider, depth, sizing, payload);
                }
                List<List<Result>> results = new ArrayList<>();
                sizings.forEach(x -> results.add(new ArrayList<>()));
                for (int run = 0; run <= runs; run++) {
                    for (int k = 0; k < sizings.size(); k++) {
                        int s = (k + run) % sizings.size();
                        Result r = measure(pki, provider, depth, sizings.get(s), payload, mib);
                        if (run > 0) {
                            results.get(s).add(r);
                        }
                    }
                }
                for (int s = 0; s < sizings.size(); s++) {
                    List<Result> rs = new ArrayList<>(results.get(s));
                    rs.sort(java.util.Comparator.comparingDouble(r -> r.sealSeconds() + r.openSeconds()));
                    Result min = rs.get(0);
                    Result median = rs.get(rs.size() / 2);
                    double gb = min.bytes() / 1e9;
                    System.out.printf(Locale.ROOT, "%-8s %5d %-7s %9.3f %9.3f %9.3f %9.3f%n", provider, depth,
                            sizings.get(s), min.sealSeconds() / gb, min.openSeconds() / gb,
                            (min.sealSeconds() + min.openSeconds()) / gb,
                            (median.sealSeconds() + median.openSeconds()) / gb);
                }
            }
        }
    }

    /**
     * The engine's rule for TLS 1.3 (LayerStack.alignRecords, applied on 2026-11-27): the outermost layer fills a record
     * (BoringSSL 16,384 bytes of plaintext; the JDK engine 16,367), each inner layer fills exactly one record of the
     * layer outside it (record overhead: BoringSSL 22 bytes, the JDK engine 38).
     */
    static int exact(SslProvider provider, int index) {
        boolean jdk = provider == SslProvider.JDK;
        int size = jdk ? 16367 : 16384;
        for (int i = 1; i <= index; i++) {
            size -= jdk ? 38 : 22;
        }
        return size;
    }

    /** A connected pair of nested stacks with all handshakes done. */
    private static final class Pair {
        final EmbeddedChannel client = new EmbeddedChannel();
        final EmbeddedChannel server = new EmbeddedChannel();

        Pair(File pki, SslProvider provider, int depth, String sizing) throws Exception {
            for (int i = 0; i < depth; i++) {
                String host = "layer" + (i + 1) + ".onion-bench.test";
                SslContext clientContext = SslContextBuilder.forClient()
                        .sslProvider(provider)
                        .protocols("TLSv1.3")
                        .ciphers(List.of("TLS_AES_128_GCM_SHA256"))
                        .trustManager(new File(pki, "ca.crt"))
                        .endpointIdentificationAlgorithm("HTTPS")
                        .build();
                SslContext serverContext = SslContextBuilder.forServer(
                                new File(pki, "layer" + (i + 1) + ".crt"), new File(pki, "layer" + (i + 1) + ".key"))
                        .sslProvider(provider)
                        .protocols("TLSv1.3")
                        .ciphers(List.of("TLS_AES_128_GCM_SHA256"))
                        .build();
                SslHandler c = clientContext.newHandler(client.alloc(), host, 443);
                SslHandler s = serverContext.newHandler(server.alloc());
                int size = switch (sizing) {
                    case "margin" -> 16384 - 64 * i;
                    case "exact" -> exact(provider, i);
                    default -> 0;
                };
                if (size > 0) {
                    c.setWrapDataSize(size);
                    s.setWrapDataSize(size);
                }
                // Inner layers go after the outer ones: the one nearest the head is outermost.
                server.pipeline().addLast(s);
                client.pipeline().addLast(c);
                for (int round = 0; round < 50 && !(c.handshakeFuture().isDone() && s.handshakeFuture().isDone());
                        round++) {
                    pump();
                }
                if (!c.handshakeFuture().isSuccess() || !s.handshakeFuture().isSuccess()) {
                    throw new IllegalStateException("layer " + (i + 1) + " handshake: "
                            + c.handshakeFuture().cause() + " / " + s.handshakeFuture().cause());
                }
            }
        }

        void pump() {
            boolean moved = true;
            while (moved) {
                moved = false;
                for (Object m; (m = client.readOutbound()) != null; moved = true) {
                    server.writeInbound(m);
                }
                for (Object m; (m = server.readOutbound()) != null; moved = true) {
                    client.writeInbound(m);
                }
                client.runPendingTasks();
                server.runPendingTasks();
            }
        }

        void close() {
            client.finishAndReleaseAll();
            server.finishAndReleaseAll();
        }
    }

    private static Result measure(File pki, SslProvider provider, int depth, String sizing, ByteBuf payload, int mib)
            throws Exception {
        Pair pair = new Pair(pki, provider, depth, sizing);
        try {
            long bytes = (long) mib * 1024 * 1024;
            long seal = 0;
            long open = 0;
            long records = 0;
            long received = 0;
            long wall = System.nanoTime();
            List<Object> wire = new ArrayList<>();
            for (long sent = 0; sent < bytes; sent += CHUNK) {
                long t0 = THREADS.getCurrentThreadCpuTime();
                pair.client.writeAndFlush(payload.retainedDuplicate());
                for (Object m; (m = pair.client.readOutbound()) != null; ) {
                    wire.add(m);
                }
                long t1 = THREADS.getCurrentThreadCpuTime();
                records += wire.size();
                for (Object m : wire) {
                    pair.server.writeInbound(m);
                }
                wire.clear();
                for (Object m; (m = pair.server.readInbound()) != null; ) {
                    received += ((ByteBuf) m).readableBytes();
                    ((ByteBuf) m).release();
                }
                long t2 = THREADS.getCurrentThreadCpuTime();
                seal += t1 - t0;
                open += t2 - t1;
            }
            if (received != bytes) {
                throw new IllegalStateException("sent " + bytes + " bytes, received " + received);
            }
            return new Result(seal / 1e9, open / 1e9, (System.nanoTime() - wall) / 1e9, bytes, records);
        } finally {
            pair.close();
        }
    }

    /** One untimed pass with a checksum of every byte, so a sizing that corrupts the stream cannot win. */
    private static void verify(File pki, SslProvider provider, int depth, String sizing, ByteBuf payload)
            throws Exception {
        Pair pair = new Pair(pki, provider, depth, sizing);
        try {
            CRC32C sent = new CRC32C();
            CRC32C got = new CRC32C();
            for (int k = 0; k < 64; k++) {
                ByteBuf chunk = payload.retainedSlice(0, CHUNK - k * 97);
                sent.update(chunk.nioBuffer());
                pair.client.writeAndFlush(chunk);
                pair.pump();
                for (Object m; (m = pair.server.readInbound()) != null; ) {
                    got.update(((ByteBuf) m).nioBuffer());
                    ((ByteBuf) m).release();
                }
            }
            if (sent.getValue() != got.getValue()) {
                throw new IllegalStateException(provider + " depth " + depth + " " + sizing + ": bytes differ");
            }
        } finally {
            pair.close();
        }
    }
}
