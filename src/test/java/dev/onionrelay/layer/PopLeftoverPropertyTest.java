package dev.onionrelay.layer;

import static org.assertj.core.api.Assertions.assertThat;

import dev.onionrelay.support.Layers;
import dev.onionrelay.support.Scenario;
import dev.onionrelay.support.TestPki;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslProvider;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLEngineResult;
import javax.net.ssl.SSLException;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Property: a pop never loses or reorders bytes. In each round a client writes, in ONE write, data inside the
 * innermost layer, that layer's close_notify, and more data belonging to the layer outside (here: plaintext); the
 * bytes reach the stack cut at random points into several reads. Every byte must arrive exactly once, in order,
 * and the layer must be gone. 10,000 rounds on the default engine, 2,500 on the JDK engine (override with {@code
 * -Drounds=N}), each with a fresh TLS session on an
 * {@link EmbeddedChannel}; rounds after the first resume with a TLS 1.3 ticket, which keeps the suite fast without
 * changing what is tested (the record layer and the pop are the same).
 */
@Scenario
class PopLeftoverPropertyTest {

    static final int ROUNDS = Integer.getInteger("rounds", 10_000);
    /** The JDK engine is no longer the default: fewer rounds keep it covered without doubling the suite's time. */
    static final int JDK_ROUNDS = Integer.getInteger("rounds", 2_500);

    static final boolean RESUME = !Boolean.getBoolean("noresume");
    static final long SEED = 0x0D10_2026L;

    static TestPki pki;
    static SslContext clientContext;

    @BeforeAll
    static void contexts() throws Exception {
        pki = new TestPki();
        pki.ca("ca");
        pki.leaf("hop", "ca");
        clientContext = SslContextBuilder.forClient()
                .sslProvider(SslProvider.JDK)
                .protocols("TLSv1.3")
                .trustManager(pki.get("ca").chain().toArray(X509Certificate[]::new))
                .build();
    }

    /** Collects whatever plaintext comes out of the stack. */
    static final class Capture extends ChannelInboundHandlerAdapter {
        final ByteArrayOutputStream bytes = new ByteArrayOutputStream();

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ByteBuf buf = (ByteBuf) msg;
            try {
                byte[] chunk = new byte[buf.readableBytes()];
                buf.readBytes(chunk);
                bytes.writeBytes(chunk);
            } finally {
                buf.release();
            }
        }
    }

    /** The default ({@code auto}: OpenSSL, keeping the close_notify outside the engine) and the JDK engine. */
    @ParameterizedTest(name = "{0}")
    @EnumSource(
            value = ProviderChoice.class,
            names = {"AUTO", "JDK"})
    void bytesAroundAPeerCloseNotifyArriveOnceAndInOrderWhateverTheReadBoundaries(ProviderChoice provider)
            throws Exception {
        PreparedLayer serverLayer = new TlsContexts(pki, provider).prepare(Layers.server("L", "hop"));
        assertThat(serverLayer.provider()).isEqualTo(provider.forLayer(0, 0));
        Random random = new Random(SEED);
        int pops = 0;
        int rounds = provider == ProviderChoice.JDK ? JDK_ROUNDS : ROUNDS;
        for (int round = 0; round < rounds; round++) {
            EmbeddedChannel channel = new EmbeddedChannel();
            Capture capture = new Capture();
            channel.pipeline().addLast("anchor", capture);
            int[] popped = {0};
            LayerStack stack = new LayerStack(channel, Side.INGRESS, "anchor", "127.0.0.1", 1, 0, new StackListener() {
                @Override
                public void popped(LayerStack s, Layer layer, Initiator initiator) {
                    popped[0]++;
                }
            });
            stack.push(serverLayer);
            SSLEngine client = clientContext.newEngine(ByteBufAllocator.DEFAULT, "localhost", 443);
            handshake(channel, client);
            if (RESUME) {
                readTickets(channel, client);
            }
            assertThat(stack.status().get(0).state()).isEqualTo(LayerState.ESTABLISHED);

            byte[] inside = bytes(random, random.nextInt(2 * 16384));
            byte[] outside = bytes(random, 1 + random.nextInt(4096));
            ByteArrayOutputStream wire = new ByteArrayOutputStream();
            wire.writeBytes(wrap(client, inside));
            client.closeOutbound();
            wire.writeBytes(wrap(client, new byte[0])); // the close_notify record
            wire.writeBytes(outside);
            byte[] all = wire.toByteArray();

            for (byte[] piece : split(random, all)) {
                channel.writeInbound(Unpooled.wrappedBuffer(piece));
            }
            channel.runPendingTasks();

            byte[] expected = concat(inside, outside);
            byte[] got = capture.bytes.toByteArray();
            if (!Arrays.equals(got, expected)) {
                throw new AssertionError("round " + round + " (seed " + SEED + "): sent " + expected.length
                        + " bytes around the close_notify, received " + got.length);
            }
            assertThat(stack.depth()).as("round %d", round).isZero();
            pops += popped[0];
            channel.finishAndReleaseAll();
        }
        assertThat(pops).isEqualTo(rounds);
    }

    private static void handshake(EmbeddedChannel channel, SSLEngine client) throws SSLException {
        client.beginHandshake();
        ByteBuffer empty = ByteBuffer.allocate(0);
        // What the server sent that the client has not consumed yet, in read mode.
        ByteBuffer fromServer = ByteBuffer.allocate(0);
        for (int step = 0; step < 200; step++) {
            SSLEngineResult.HandshakeStatus status = client.getHandshakeStatus();
            if (status == SSLEngineResult.HandshakeStatus.NOT_HANDSHAKING
                    || status == SSLEngineResult.HandshakeStatus.FINISHED) {
                // The server's Finished may still be in flight to us; the server side is done once it read ours.
                channel.runPendingTasks();
                return;
            }
            switch (status) {
                case NEED_TASK -> {
                    Runnable task;
                    while ((task = client.getDelegatedTask()) != null) {
                        task.run();
                    }
                }
                case NEED_WRAP -> {
                    byte[] out = wrapRaw(client, empty);
                    if (out.length > 0) {
                        channel.writeInbound(Unpooled.wrappedBuffer(out));
                    }
                }
                case NEED_UNWRAP, NEED_UNWRAP_AGAIN -> {
                    if (!fromServer.hasRemaining()) {
                        fromServer = takeOutbound(channel);
                        if (!fromServer.hasRemaining()) {
                            throw new AssertionError("handshake stalled: the server sent nothing");
                        }
                    }
                    ByteBuffer app = ByteBuffer.allocate(client.getSession().getApplicationBufferSize());
                    SSLEngineResult result = client.unwrap(fromServer, app);
                    if (result.getStatus() == SSLEngineResult.Status.BUFFER_UNDERFLOW) {
                        // A record cut short: the rest is still in the channel.
                        ByteBuffer more = takeOutbound(channel);
                        if (!more.hasRemaining()) {
                            throw new AssertionError("handshake stalled in the middle of a record");
                        }
                        fromServer = ByteBuffer.allocate(fromServer.remaining() + more.remaining())
                                .put(fromServer)
                                .put(more)
                                .flip();
                    }
                }
                default -> throw new AssertionError("unexpected handshake status " + status);
            }
        }
        throw new AssertionError("handshake did not finish");
    }

    /** Everything the server has written so far. */
    private static ByteBuffer takeOutbound(EmbeddedChannel channel) {
        channel.runPendingTasks();
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
        ByteBuf written;
        while ((written = channel.readOutbound()) != null) {
            try {
                byte[] bytes = new byte[written.readableBytes()];
                written.readBytes(bytes);
                out.writeBytes(bytes);
            } finally {
                written.release();
            }
        }
        return ByteBuffer.wrap(out.toByteArray());
    }

    /**
     * Reads what the server sent after its Finished (TLS 1.3 NewSessionTicket), so that the next round's client
     * resumes with a pre-shared key: the handshake then skips certificate signatures, which is most of a round.
     */
    private static void readTickets(EmbeddedChannel channel, SSLEngine client) throws SSLException {
        ByteBuf fromServer;
        while ((fromServer = channel.readOutbound()) != null) {
            try {
                ByteBuffer in = fromServer.nioBuffer();
                ByteBuffer app = ByteBuffer.allocate(client.getSession().getApplicationBufferSize());
                while (in.hasRemaining()) {
                    SSLEngineResult result = client.unwrap(in, app);
                    Runnable task;
                    while ((task = client.getDelegatedTask()) != null) {
                        task.run();
                    }
                    if (result.bytesConsumed() == 0) {
                        break;
                    }
                }
            } finally {
                fromServer.release();
            }
        }
    }

    private static byte[] wrap(SSLEngine client, byte[] plaintext) throws SSLException {
        return wrapRaw(client, ByteBuffer.wrap(plaintext));
    }

    private static byte[] wrapRaw(SSLEngine client, ByteBuffer plaintext) throws SSLException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        do {
            ByteBuffer net = ByteBuffer.allocate(client.getSession().getPacketBufferSize());
            SSLEngineResult result = client.wrap(plaintext, net);
            net.flip();
            byte[] chunk = new byte[net.remaining()];
            net.get(chunk);
            out.writeBytes(chunk);
            if (result.bytesProduced() == 0) {
                break;
            }
        } while (plaintext.hasRemaining());
        return out.toByteArray();
    }

    /** Cuts {@code all} at 0 to 4 random points (so 1 to 5 reads). */
    private static List<byte[]> split(Random random, byte[] all) {
        int cuts = random.nextInt(5);
        int[] points = new int[cuts + 2];
        points[0] = 0;
        points[cuts + 1] = all.length;
        for (int i = 1; i <= cuts; i++) {
            points[i] = random.nextInt(all.length + 1);
        }
        Arrays.sort(points);
        List<byte[]> pieces = new ArrayList<>();
        for (int i = 0; i + 1 < points.length; i++) {
            if (points[i + 1] > points[i]) {
                pieces.add(Arrays.copyOfRange(all, points[i], points[i + 1]));
            }
        }
        return pieces;
    }

    private static byte[] bytes(Random random, int n) {
        byte[] bytes = new byte[n];
        random.nextBytes(bytes);
        return bytes;
    }

    private static byte[] concat(byte[] a, byte[] b) {
        byte[] all = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, all, a.length, b.length);
        return all;
    }
}
