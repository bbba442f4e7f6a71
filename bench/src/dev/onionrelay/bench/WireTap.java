package dev.onionrelay.bench;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

/**
 * A TCP forwarder on loopback between an entry relay and its exit relay: it passes every byte on unchanged and in
 * order, counts the bytes each way (TCP payload: what the relays wrote, TLS records and all), notes when the direction
 * of the data changes (the flights of a handshake), and can hold every chunk for a fixed delay each way, so that a
 * set-up that needs one more round trip takes one more {@code 2 x delay}. Half-closes pass on as half-closes, so a
 * teardown's last records are counted too. One thread per direction reads, one writes when the chunk is due.
 */
final class WireTap implements AutoCloseable {

    private static final int CHUNK = 64 * 1024;

    private final ServerSocket server;
    private final int targetPort;
    private final ExecutorService threads = Executors.newCachedThreadPool(r -> {
        Thread thread = new Thread(r, "wire-tap");
        thread.setDaemon(true);
        return thread;
    });
    private final List<Connection> connections = new ArrayList<>();
    private volatile long delayNanos;

    private WireTap(ServerSocket server, int targetPort) {
        this.server = server;
        this.targetPort = targetPort;
    }

    /** Listens on an ephemeral loopback port and forwards every connection to {@code targetPort}. */
    static WireTap start(int targetPort) throws IOException {
        ServerSocket server = new ServerSocket(0, 64, InetAddress.getLoopbackAddress());
        WireTap tap = new WireTap(server, targetPort);
        tap.threads.execute(tap::accept);
        return tap;
    }

    int port() {
        return server.getLocalPort();
    }

    /** Holds every chunk this long in each direction from now on: a round trip of {@code 2 x delay}. */
    void delay(Duration delay) {
        delayNanos = delay.toNanos();
    }

    /** Connections accepted so far. */
    int accepted() {
        synchronized (connections) {
            return connections.size();
        }
    }

    /** The {@code index}-th connection accepted (from 0), once it has been. */
    Connection connection(int index, Duration timeout) throws IOException, InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        synchronized (connections) {
            while (connections.size() <= index) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    throw new IOException("the wire tap saw no connection " + index + " within " + timeout);
                }
                TimeUnit.NANOSECONDS.timedWait(connections, left);
            }
            return connections.get(index);
        }
    }

    private void accept() {
        while (!server.isClosed()) {
            try {
                Socket in = server.accept();
                Socket out = new Socket();
                try {
                    out.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), targetPort), 5000);
                } catch (IOException e) {
                    in.close();
                    out.close();
                    continue;
                }
                in.setTcpNoDelay(true);
                out.setTcpNoDelay(true);
                Connection connection = new Connection(in, out);
                synchronized (connections) {
                    connections.add(connection);
                    connections.notifyAll();
                }
                pump(connection, in, out, Connection.UP);
                pump(connection, out, in, Connection.DOWN);
            } catch (IOException e) {
                // Closed: the benchmark is done with this tap.
            }
        }
    }

    /** A chunk and when it is due; an empty chunk is the end of the direction. */
    private record Chunk(long due, byte[] bytes) {}

    private void pump(Connection connection, Socket from, Socket to, int direction) {
        BlockingQueue<Chunk> queue = new LinkedBlockingQueue<>();
        threads.execute(() -> {
            byte[] buffer = new byte[CHUNK];
            try {
                InputStream in = from.getInputStream();
                int n;
                while ((n = in.read(buffer)) > 0) {
                    long now = System.nanoTime();
                    connection.saw(direction, n, now);
                    connection.records[direction].count(buffer, n);
                    queue.add(new Chunk(now + delayNanos, Arrays.copyOf(buffer, n)));
                }
            } catch (IOException e) {
                // Reset or closed: end this direction like an EOF.
            }
            queue.add(new Chunk(System.nanoTime() + delayNanos, new byte[0]));
        });
        threads.execute(() -> {
            try {
                OutputStream out = to.getOutputStream();
                while (true) {
                    Chunk chunk = queue.take();
                    long wait;
                    while ((wait = chunk.due() - System.nanoTime()) > 0) {
                        LockSupport.parkNanos(wait);
                    }
                    if (chunk.bytes().length == 0) {
                        to.shutdownOutput();
                        break;
                    }
                    out.write(chunk.bytes());
                }
            } catch (IOException | InterruptedException e) {
                // The other side is gone: nothing more to pass on.
            } finally {
                connection.ended();
            }
        });
    }

    @Override
    public void close() {
        try {
            server.close();
        } catch (IOException ignored) {
            // Closing anyway.
        }
        synchronized (connections) {
            connections.forEach(Connection::close);
        }
        threads.shutdownNow();
    }

    /** One forwarded connection: bytes each way and the times at which the data changed direction. */
    static final class Connection {
        static final int UP = 0;
        static final int DOWN = 1;

        private final Socket in;
        private final Socket out;
        private final AtomicLong[] bytes = {new AtomicLong(), new AtomicLong()};
        private final RecordCounter[] records = {new RecordCounter(), new RecordCounter()};
        private final List<Long> flightStarts = new ArrayList<>();
        private final CountDownLatch ended = new CountDownLatch(2);
        private int lastDirection = -1;

        private Connection(Socket in, Socket out) {
            this.in = in;
            this.out = out;
        }

        private synchronized void saw(int direction, int n, long now) {
            bytes[direction].addAndGet(n);
            if (direction != lastDirection) {
                flightStarts.add(now);
                lastDirection = direction;
            }
        }

        private void ended() {
            ended.countDown();
            if (ended.getCount() == 0) {
                close();
            }
        }

        /** Bytes from the entry towards the exit. */
        long up() {
            return bytes[UP].get();
        }

        /** Bytes from the exit towards the entry. */
        long down() {
            return bytes[DOWN].get();
        }

        /** TLS records from the entry towards the exit. */
        long recordsUp() {
            return records[UP].records;
        }

        /** TLS records from the exit towards the entry. */
        long recordsDown() {
            return records[DOWN].records;
        }

        /** Flights (runs of data in one direction) whose first byte the tap read before {@code nanoTime}. */
        synchronized int flightsBefore(long nanoTime) {
            return (int) flightStarts.stream().filter(t -> t < nanoTime).count();
        }

        /** Waits until both directions have ended (both relays closed their side). */
        boolean awaitEnded(Duration timeout) throws InterruptedException {
            return ended.await(timeout.toMillis(), TimeUnit.MILLISECONDS);
        }

        private void close() {
            for (Socket socket : List.of(in, out)) {
                try {
                    socket.close();
                } catch (IOException ignored) {
                    // Closing anyway.
                }
            }
        }
    }

    /**
     * Counts the TLS records of one direction from their 5-byte headers (type, version, length), wherever the reads cut
     * them. Written by that direction's reader thread only.
     */
    private static final class RecordCounter {
        private final byte[] header = new byte[5];
        private int headerRead;
        private int bodyLeft;
        private volatile long records;

        void count(byte[] buffer, int n) {
            int i = 0;
            while (i < n) {
                if (bodyLeft > 0) {
                    int skip = Math.min(bodyLeft, n - i);
                    bodyLeft -= skip;
                    i += skip;
                    continue;
                }
                header[headerRead++] = buffer[i++];
                if (headerRead == header.length) {
                    headerRead = 0;
                    bodyLeft = (header[3] & 0xFF) << 8 | header[4] & 0xFF;
                    records++;
                }
            }
        }
    }
}
