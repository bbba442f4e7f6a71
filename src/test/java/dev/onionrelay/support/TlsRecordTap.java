package dev.onionrelay.support;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A TCP forwarder on loopback that passes every byte on unchanged and notes, per connection, the TLS records it sees
 * each way: direction, content type, length on the wire (header included) and arrival time. What a passive observer
 * between two hops (or between a client and a server) learns without any key.
 *
 * <p>Each direction is framed on its own ({@link TlsRecordFramer}), so records split over TCP segments or sharing one
 * are counted right. Records are noted before their bytes are passed on, under one lock per connection, so the order of
 * {@link Connection#records()} respects causality: an answer is never noted before the bytes that caused it.
 *
 * <p>New connections go to the port last given to {@link #forwardTo}: one observation point for several kinds of
 * traffic, one batch after the other. Half-close is passed on as in {@link RecordingProxy}.
 */
public final class TlsRecordTap implements AutoCloseable {

    /** Which way a record travelled: from the side that connected, or back to it. */
    public enum Direction {
        CLIENT,
        SERVER
    }

    /** One TLS record on the wire. */
    public record Record(Direction direction, int contentType, int wireLength, long nanos) {
        @Override
        public String toString() {
            return (direction == Direction.CLIENT ? "c" : "s") + contentType + ":" + wireLength;
        }
    }

    /** The records of one tapped connection, in the order the tap saw them. */
    public static final class Connection {
        private final List<Record> records = new ArrayList<>();
        private final AtomicInteger directionsLeft = new AtomicInteger(2);

        /** A copy of the records so far. */
        public List<Record> records() {
            synchronized (records) {
                return List.copyOf(records);
            }
        }

        /** Whether both directions have ended. */
        public boolean finished() {
            return directionsLeft.get() == 0;
        }

        /** Waits up to {@code seconds} for both directions to end; whether they did. */
        public boolean awaitEnd(long seconds) throws InterruptedException {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
            while (!finished() && System.nanoTime() < deadline) {
                TimeUnit.MILLISECONDS.sleep(5);
            }
            return finished();
        }

        TlsRecordFramer framer(Direction direction) {
            return new TlsRecordFramer(frame ->
                    records.add(new Record(direction, frame.contentType(), frame.wireLength(), frame.nanos())));
        }

        @Override
        public String toString() {
            return records().toString();
        }
    }

    static final int QUIET_MILLIS = 300;

    private final ServerSocket server;
    private final CopyOnWriteArrayList<Socket> sockets = new CopyOnWriteArrayList<>();
    private final List<Connection> connections = new ArrayList<>();
    private volatile int targetPort;
    private volatile long lastAcceptNanos = System.nanoTime();

    public TlsRecordTap(int targetPort) throws IOException {
        this.targetPort = targetPort;
        this.server = new ServerSocket(0, 200, InetAddress.getLoopbackAddress());
        Thread acceptor = new Thread(this::acceptLoop, "tls-record-tap-accept");
        acceptor.setDaemon(true);
        acceptor.start();
    }

    public int port() {
        return server.getLocalPort();
    }

    /** Sends connections accepted from now on to {@code port} on loopback. */
    public void forwardTo(int port) {
        targetPort = port;
    }

    /** The connections accepted so far and not yet taken ({@link #takeFinished}), oldest first. */
    public List<Connection> connections() {
        synchronized (connections) {
            return List.copyOf(connections);
        }
    }

    /**
     * Waits until at least {@code expected} connections were accepted, every one has ended both ways and none was
     * accepted for {@value #QUIET_MILLIS} ms (one still in the accept backlog belongs to this batch), then hands them
     * over (oldest first) and forgets them: the next call returns only later connections.
     */
    public List<Connection> takeFinished(int expected, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            synchronized (connections) {
                if (connections.size() >= expected
                        && connections.stream().allMatch(Connection::finished)
                        && System.nanoTime() - lastAcceptNanos > TimeUnit.MILLISECONDS.toNanos(QUIET_MILLIS)) {
                    List<Connection> taken = List.copyOf(connections);
                    connections.clear();
                    return taken;
                }
                if (System.nanoTime() > deadline) {
                    long finished =
                            connections.stream().filter(Connection::finished).count();
                    throw new IllegalStateException("the tap saw " + connections.size() + " connections, " + finished
                            + " finished, expected " + expected + " within " + timeout);
                }
            }
            TimeUnit.MILLISECONDS.sleep(10);
        }
    }

    private void acceptLoop() {
        while (!server.isClosed()) {
            Socket client;
            try {
                client = server.accept();
            } catch (IOException closed) {
                return;
            }
            lastAcceptNanos = System.nanoTime();
            noDelay(client);
            Connection connection = new Connection();
            synchronized (connections) {
                connections.add(connection);
            }
            sockets.add(client);
            Socket target;
            try {
                target = new Socket(InetAddress.getLoopbackAddress(), targetPort);
                noDelay(target);
            } catch (IOException refused) {
                closeQuietly(client);
                connection.directionsLeft.set(0);
                continue;
            }
            sockets.add(target);
            Runnable ended = () -> {
                if (connection.directionsLeft.decrementAndGet() == 0) {
                    closeQuietly(client);
                    closeQuietly(target);
                    sockets.remove(client);
                    sockets.remove(target);
                }
            };
            start(() -> pump(client, target, connection, Direction.CLIENT, ended));
            start(() -> pump(target, client, connection, Direction.SERVER, ended));
        }
    }

    /** Copies {@code from} to {@code to} until EOF, noting each chunk's records before passing it on. */
    private static void pump(Socket from, Socket to, Connection connection, Direction direction, Runnable ended) {
        TlsRecordFramer framer = connection.framer(direction);
        try {
            InputStream in = from.getInputStream();
            OutputStream out = to.getOutputStream();
            byte[] buffer = new byte[32 * 1024];
            int n;
            while ((n = in.read(buffer)) >= 0) {
                synchronized (connection.records) {
                    framer.accept(buffer, 0, n, System.nanoTime());
                }
                out.write(buffer, 0, n);
                out.flush();
            }
            to.shutdownOutput();
        } catch (IOException broken) {
            // A reset or an abort on either side: nothing more can flow either way.
            closeQuietly(from);
            closeQuietly(to);
        }
        ended.run();
    }

    private static void start(Runnable task) {
        Thread thread = new Thread(task, "tls-record-tap");
        thread.setDaemon(true);
        thread.start();
    }

    /**
     * A forwarder that held back a small chunk until the previous one is acknowledged (Nagle's algorithm) would meet
     * the receiver's delayed ACK and stall each such exchange by ~40 ms; no hop of a real path adds that. The records,
     * their sizes and their order are the same either way.
     */
    private static void noDelay(Socket socket) {
        try {
            socket.setTcpNoDelay(true);
        } catch (IOException ignored) {
            // Already gone: the pump will see it.
        }
    }

    private static void closeQuietly(Socket socket) {
        try {
            socket.close();
        } catch (IOException ignored) {
            // Already gone.
        }
    }

    @Override
    public void close() throws IOException {
        server.close();
        for (Socket socket : sockets) {
            closeQuietly(socket);
        }
    }
}
