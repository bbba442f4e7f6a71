package dev.onionrelay.relay;

import io.netty.channel.EventLoopGroup;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.ServerChannel;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;

/**
 * The socket transport. NIO by default; native epoll on request ({@code -Donion.transport=epoll}).
 *
 * <p>Why not epoll by default: in Netty 4.2.15 the epoll transport deletes a socket from the epoll set when it has
 * no interest left (netty/netty#16689), but keeps treating it as registered. A half-closed tunnel hits exactly that
 * case: input shut down, reads paused by backpressure, then a write that must wait for EPOLLOUT fails with ENOENT
 * and the rest of the stream is lost. NIO has no such state and passes the same half-close tests every time.
 */
public record Transport(
        String name,
        IoHandlerFactory ioHandlerFactory,
        Class<? extends ServerChannel> serverChannel,
        Class<? extends SocketChannel> socketChannel) {

    /** The transports there are, as configuration names them ({@code nio}, {@code epoll}). */
    public enum Kind {
        NIO,
        EPOLL
    }

    /**
     * The transport configured: epoll when asked for, and a start that fails when it cannot load (a configuration that
     * asks for epoll on a machine without it is wrong, not a reason to quietly run something else).
     *
     * @throws IllegalStateException when epoll is asked for and cannot load
     */
    public static Transport of(Kind kind) {
        if (kind == Kind.EPOLL) {
            if (!Epoll.isAvailable()) {
                throw new IllegalStateException(
                        "onion.engine.transport=epoll but epoll cannot load here: " + Epoll.unavailabilityCause());
            }
            return named("epoll");
        }
        return named("nio");
    }

    /** NIO, unless {@code -Donion.transport=epoll} asks for epoll and it is available (tests). */
    public static Transport preferred() {
        return named(System.getProperty("onion.transport", "nio"));
    }

    /** {@code nio} or {@code epoll} (falls back to NIO when epoll cannot load). */
    public static Transport named(String name) {
        if ("epoll".equalsIgnoreCase(name.trim()) && Epoll.isAvailable()) {
            return new Transport(
                    "epoll", EpollIoHandler.newFactory(), EpollServerSocketChannel.class, EpollSocketChannel.class);
        }
        return new Transport("nio", NioIoHandler.newFactory(), NioServerSocketChannel.class, NioSocketChannel.class);
    }

    /**
     * Event loops of this transport, each running its queued tasks for at most {@link EventLoops#TASK_QUANTUM} before
     * it reads its sockets again.
     */
    public EventLoopGroup newGroup(int threads, String namePrefix) {
        return new EventLoops(threads, namePrefix, ioHandlerFactory);
    }
}
