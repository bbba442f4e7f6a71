package dev.onionrelay.api.connector;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.SocketTimeoutException;
import java.nio.channels.SocketChannel;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.coyote.AbstractProcessor;
import org.apache.coyote.Constants;
import org.apache.coyote.Request;
import org.apache.tomcat.util.net.NioChannel;
import org.apache.tomcat.util.net.NioEndpoint;
import org.apache.tomcat.util.net.SocketEvent;
import org.apache.tomcat.util.net.SocketWrapperBase;
import org.jspecify.annotations.Nullable;

/**
 * Tomcat's NIO endpoint with two guards that Tomcat lacks, so that a few sockets cannot hold the API port.
 *
 * <p><b>Connections per client address.</b> Beyond {@code maxConnectionsPerAddress} open connections from one address, a
 * new one is closed as it is accepted, before a byte is read or a worker is used. Counted by walking the open
 * connections (at most Tomcat's {@code maxConnections}), so the count can never drift from what is really open.
 *
 * <p><b>A deadline for the request head.</b> Tomcat's read timeout ({@code server.tomcat.connection-timeout}) is the
 * longest silence between two reads, so a head trickled one byte at a time never ends: measured, 200 s and more. Once
 * a second, a sweep closes every connection whose request line and headers started arriving longer ago than {@code
 * requestHeadTimeout} and are still incomplete. A partial head waits in the poller without a worker, with its
 * processor attached to the socket and its request's start time set (Tomcat marks it at the first byte of the request
 * line and clears it when the request is recycled): that is what the sweep looks for. The body has its own deadline
 * in {@code RequestSizeFilter}, where it is read.
 */
public class GuardedNioEndpoint extends NioEndpoint {

    private volatile int maxConnectionsPerAddress;
    private volatile long requestHeadTimeoutNanos;
    private final AtomicLong refusedPerAddress = new AtomicLong();
    private final AtomicLong headTimeouts = new AtomicLong();
    private @Nullable ScheduledExecutorService sweeper;

    /** At most this many open connections per client address; 0: no limit. */
    public void setMaxConnectionsPerAddress(int max) {
        this.maxConnectionsPerAddress = max;
    }

    /** A request head still incomplete this long after its first byte closes the connection; 0: no deadline. */
    public void setRequestHeadTimeoutMillis(long millis) {
        this.requestHeadTimeoutNanos = TimeUnit.MILLISECONDS.toNanos(millis);
    }

    /** Connections closed as they were accepted because their address had the most it may have. */
    public long refusedPerAddress() {
        return refusedPerAddress.get();
    }

    /** Connections closed because their request head did not arrive in time. */
    public long headTimeouts() {
        return headTimeouts.get();
    }

    @Override
    protected boolean setSocketOptions(SocketChannel socket) {
        int max = maxConnectionsPerAddress;
        if (max > 0) {
            String address = hostAddress(socket);
            if (address != null && openFrom(address) >= max) {
                // As Tomcat's own refusals here: close it and give back its place in maxConnections (the acceptor
                // only closes what it finds among the open connections, which this one never joined).
                refusedPerAddress.incrementAndGet();
                destroySocket(socket);
                return false;
            }
        }
        return super.setSocketOptions(socket);
    }

    private int openFrom(String address) {
        int open = 0;
        for (SocketWrapperBase<NioChannel> connection : getConnections()) {
            if (address.equals(connection.getRemoteAddr())) {
                open++;
            }
        }
        return open;
    }

    private static @Nullable String hostAddress(SocketChannel socket) {
        try {
            SocketAddress remote = socket.getRemoteAddress();
            return remote instanceof InetSocketAddress inet && inet.getAddress() != null
                    ? inet.getAddress().getHostAddress()
                    : null;
        } catch (IOException e) {
            return null;
        }
    }

    @Override
    public void startInternal() throws Exception {
        super.startInternal();
        ScheduledExecutorService started = Executors.newSingleThreadScheduledExecutor(runnable -> {
            Thread thread = new Thread(runnable, getName() + "-head-deadline");
            thread.setDaemon(true);
            return thread;
        });
        started.scheduleWithFixedDelay(this::closeLateHeads, 1, 1, TimeUnit.SECONDS);
        sweeper = started;
    }

    @Override
    public void stopInternal() {
        ScheduledExecutorService started = sweeper;
        if (started != null) {
            started.shutdownNow();
            sweeper = null;
        }
        super.stopInternal();
    }

    private void closeLateHeads() {
        long timeout = requestHeadTimeoutNanos;
        if (timeout <= 0) {
            return;
        }
        long now = System.nanoTime();
        for (SocketWrapperBase<NioChannel> connection : getConnections()) {
            if (connection.getCurrentProcessor() instanceof AbstractProcessor processor
                    && !processor.isAsync()
                    && headLate(processor.getRequest(), now, timeout)) {
                headTimeouts.incrementAndGet();
                // As Tomcat's poller ends a read that timed out: the error goes through the connection's handler,
                // which releases the processor and closes the socket on a worker.
                connection.setError(new SocketTimeoutException("request head not complete in time"));
                if (!processSocket(connection, SocketEvent.ERROR, true)) {
                    connection.close();
                }
            }
        }
    }

    /** Whether a request head is being parsed and began longer than {@code timeout} before {@code now}. */
    private static boolean headLate(Request request, long now, long timeout) {
        long started = request.getStartTimeNanos();
        int stage = request.getRequestProcessor().getStage();
        // From PREPARE to ENDOUTPUT a worker serves the request; a head left incomplete ends its turn with ENDED.
        boolean parsing = stage < Constants.STAGE_PREPARE || stage > Constants.STAGE_ENDOUTPUT;
        // -1: Tomcat's mark for a request whose line has not started (any other value is a System.nanoTime()).
        return parsing && started != -1 && now - started > timeout;
    }
}
