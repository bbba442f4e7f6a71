package dev.onionrelay.relay;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioSocketChannel;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * The engine's event loops read their sockets between queued tasks: a loop with a backlog of half a second of tasks
 * (a flood's registrations) still reads an open connection's bytes long before that backlog is through. With Netty's
 * own quantum (a second) the read waits for the last task.
 */
class EventLoopsTest {

    static final int TASKS = 10_000;
    /** 50 µs each: half a second in all, under Netty's default quantum of one second, far over ours. */
    static final long TASK_NANOS = 50_000;

    @Test
    void aBacklogOfTasksDoesNotHoldBackReads() throws Exception {
        EventLoopGroup loops = new EventLoops(1, "test-loop", NioIoHandler.newFactory());
        try (ServerSocket server = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            AtomicInteger tasksDone = new AtomicInteger();
            CompletableFuture<Integer> doneAtRead = new CompletableFuture<>();
            Channel channel = new Bootstrap()
                    .group(loops)
                    .channel(NioSocketChannel.class)
                    .handler(new ChannelInboundHandlerAdapter() {
                        @Override
                        public void channelRead(ChannelHandlerContext ctx, Object msg) {
                            ((ByteBuf) msg).release();
                            doneAtRead.complete(tasksDone.get());
                        }
                    })
                    .connect(server.getLocalSocketAddress())
                    .sync()
                    .channel();
            try (Socket peer = server.accept()) {
                for (int i = 0; i < TASKS; i++) {
                    channel.eventLoop().execute(() -> {
                        long until = System.nanoTime() + TASK_NANOS;
                        while (System.nanoTime() < until) {
                            Thread.onSpinWait();
                        }
                        tasksDone.incrementAndGet();
                    });
                }
                peer.getOutputStream().write(1);

                int done = doneAtRead.get(30, TimeUnit.SECONDS);
                assertThat(done)
                        .as("tasks run before the read, of %d queued", TASKS)
                        .isLessThan(TASKS / 2);
            } finally {
                channel.close().sync();
            }
        } finally {
            loops.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
        }
    }

    @Test
    void tunnelIdsAreRandomVersionFourUuids() {
        UUID id = UUID.fromString(Tunnel.randomUuid().toString());
        assertThat(id.version()).isEqualTo(4);
        assertThat(id.variant()).isEqualTo(2);
        assertThat(Tunnel.randomUuid()).isNotEqualTo(Tunnel.randomUuid());
    }
}
