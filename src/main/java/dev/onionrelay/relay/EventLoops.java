package dev.onionrelay.relay;

import io.netty.channel.IoEventLoop;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.SingleThreadIoEventLoop;
import io.netty.util.concurrent.DefaultThreadFactory;
import io.netty.util.concurrent.RejectedExecutionHandlers;
import java.time.Duration;
import java.util.concurrent.Executor;

/**
 * The engine's event loops: Netty's, with a short task quantum.
 *
 * <p>A Netty event loop alternates between reading its sockets and running its queued tasks, and runs tasks for up to
 * a second ({@code io.netty.eventLoop.maxTaskProcessingQuantumMs}, 1000 by default, 100 at the least) before it reads
 * again. Every connection the acceptor takes reaches its loop as such a task: its registration, which also makes its
 * tunnel. Under a flood of connections (issue 22) thousands of those queue up, and the loop then reads the sockets of
 * working tunnels once a second: a real client's TLS handshake, two or three such reads per layer, took 3 s of a 5 s
 * set-up in {@code AdmissionFloodTest} while the relay's threads used a third of one CPU. With a quantum of
 * {@link #TASK_QUANTUM}, reads of open tunnels and handshakes in progress come between every few dozen registrations;
 * the same flood costs the same CPU, and the handshake part of those set-ups fell to a few hundred milliseconds. Netty
 * checks the quantum every 64 tasks, so a loop without a backlog of tasks runs exactly as before.
 */
final class EventLoops extends MultiThreadIoEventLoopGroup {

    static final Duration TASK_QUANTUM = Duration.ofMillis(10);

    EventLoops(int threads, String namePrefix, IoHandlerFactory ioHandlerFactory) {
        super(threads, new DefaultThreadFactory(namePrefix, true), ioHandlerFactory);
    }

    @Override
    protected IoEventLoop newChild(Executor executor, IoHandlerFactory ioHandlerFactory, Object... args) {
        return new SingleThreadIoEventLoop(
                this,
                executor,
                ioHandlerFactory,
                Integer.MAX_VALUE, // Netty's default: no bound on queued tasks
                RejectedExecutionHandlers.reject(),
                TASK_QUANTUM.toMillis());
    }
}
