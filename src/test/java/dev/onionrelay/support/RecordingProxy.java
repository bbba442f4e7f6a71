package dev.onionrelay.support;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A plain TCP forwarder on loopback that records every byte it passes on, one recording per direction, so that tests
 * can look at what travels on the wire between two hops.
 *
 * <p>Half-close aware: when one side ends its direction (EOF), the proxy ends the same direction towards the other
 * side ({@code shutdownOutput}) and keeps forwarding the other direction; a connection pair is closed once both
 * directions have ended. Recordings are the concatenation over all connections, in arrival order per direction.
 */
public final class RecordingProxy implements AutoCloseable {

    private final int targetPort;
    private final ServerSocket server;
    private final CopyOnWriteArrayList<Socket> sockets = new CopyOnWriteArrayList<>();
    private final ByteArrayOutputStream upstream = new ByteArrayOutputStream();
    private final ByteArrayOutputStream downstream = new ByteArrayOutputStream();
    private final CopyOnWriteArrayList<ByteArrayOutputStream> downstreamByConnection = new CopyOnWriteArrayList<>();
    private final AtomicInteger connections = new AtomicInteger();
    private final AtomicInteger finishedConnections = new AtomicInteger();

    /** Starts listening on an ephemeral loopback port, forwarding to {@code targetPort} on loopback. */
    public RecordingProxy(int targetPort) throws IOException {
        this.targetPort = targetPort;
        this.server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        Thread acceptor = new Thread(this::acceptLoop, "recording-proxy-accept");
        acceptor.setDaemon(true);
        acceptor.start();
    }

    public int port() {
        return server.getLocalPort();
    }

    /** Bytes sent from the connecting side towards the target so far. */
    public byte[] upstream() {
        synchronized (upstream) {
            return upstream.toByteArray();
        }
    }

    /** Bytes sent from the target back to the connecting side so far. */
    public byte[] downstream() {
        synchronized (downstream) {
            return downstream.toByteArray();
        }
    }

    /**
     * Bytes sent from the target back to the connecting side, one recording per connection in the order they were
     * accepted: what concurrent connections send cannot be told apart in {@link #downstream()}.
     */
    public List<byte[]> downstreamByConnection() {
        List<byte[]> recordings = new ArrayList<>();
        for (ByteArrayOutputStream recording : downstreamByConnection) {
            synchronized (recording) {
                recordings.add(recording.toByteArray());
            }
        }
        return recordings;
    }

    /** Connections accepted so far. */
    public int connections() {
        return connections.get();
    }

    /** Connections whose both directions have ended. */
    public int finishedConnections() {
        return finishedConnections.get();
    }

    private void acceptLoop() {
        while (!server.isClosed()) {
            Socket client;
            try {
                client = server.accept();
            } catch (IOException closed) {
                return;
            }
            sockets.add(client);
            connections.incrementAndGet();
            Socket target;
            try {
                target = new Socket(InetAddress.getLoopbackAddress(), targetPort);
            } catch (IOException refused) {
                closeQuietly(client);
                finishedConnections.incrementAndGet();
                continue;
            }
            sockets.add(target);
            AtomicInteger directionsLeft = new AtomicInteger(2);
            Runnable directionEnded = () -> {
                if (directionsLeft.decrementAndGet() == 0) {
                    closeQuietly(client);
                    closeQuietly(target);
                    finishedConnections.incrementAndGet();
                }
            };
            start("recording-proxy-up", () -> pump(client, target, List.of(upstream), directionEnded));
            ByteArrayOutputStream own = new ByteArrayOutputStream();
            downstreamByConnection.add(own);
            start("recording-proxy-down", () -> pump(target, client, List.of(downstream, own), directionEnded));
        }
    }

    /** Copies {@code from} to {@code to} until EOF, recording each chunk before it is passed on. */
    private static void pump(Socket from, Socket to, List<ByteArrayOutputStream> recordings, Runnable ended) {
        try {
            InputStream in = from.getInputStream();
            OutputStream out = to.getOutputStream();
            byte[] buffer = new byte[32 * 1024];
            int n;
            while ((n = in.read(buffer)) >= 0) {
                for (ByteArrayOutputStream recording : recordings) {
                    synchronized (recording) {
                        recording.write(buffer, 0, n);
                    }
                }
                out.write(buffer, 0, n);
                out.flush();
            }
            // EOF from one side becomes EOF towards the other; the opposite direction keeps flowing.
            to.shutdownOutput();
            ended.run();
        } catch (IOException broken) {
            // A reset or an abort on either side: nothing more can flow either way.
            closeQuietly(from);
            closeQuietly(to);
            ended.run();
        }
    }

    private static void start(String name, Runnable task) {
        Thread thread = new Thread(task, name);
        thread.setDaemon(true);
        thread.start();
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
