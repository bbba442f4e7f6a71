package dev.onionrelay.support;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * A TCP forwarder on loopback that logs the TLS records it passes, per connection, in the order they arrived: what a
 * passive observer between two hops sees (content type, direction and size of every record on the wire). Half-close
 * aware like {@link RecordingProxy}: an ended direction is ended towards the other side while the other keeps going.
 */
public final class TlsRecordTap implements AutoCloseable {

    /** One record on the wire: {@code fromClient} is the direction, {@code size} the whole record, header included. */
    public record Record(boolean fromClient, int type, int size, long nanos) {}

    /** One tapped connection: its records so far, and whether both directions have ended. */
    public static final class Connection {
        private final List<Record> records = new ArrayList<>();
        private final CountDownLatch ended = new CountDownLatch(2);

        public List<Record> records() {
            synchronized (records) {
                return List.copyOf(records);
            }
        }

        /** Waits until both directions have ended. */
        public boolean awaitEnd(long seconds) throws InterruptedException {
            return ended.await(seconds, TimeUnit.SECONDS);
        }

        void add(Record record) {
            synchronized (records) {
                records.add(record);
            }
        }
    }

    private final int targetPort;
    private final ServerSocket server;
    private final List<Connection> connections = new CopyOnWriteArrayList<>();
    private final List<Socket> sockets = new CopyOnWriteArrayList<>();

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

    /** The connections tapped so far, in the order they were accepted. */
    public List<Connection> connections() {
        return List.copyOf(connections);
    }

    private void acceptLoop() {
        while (!server.isClosed()) {
            try {
                Socket client = server.accept();
                Socket target = new Socket(InetAddress.getLoopbackAddress(), targetPort);
                client.setTcpNoDelay(true);
                target.setTcpNoDelay(true);
                sockets.add(client);
                sockets.add(target);
                Connection connection = new Connection();
                connections.add(connection);
                pump(client, target, connection, true);
                pump(target, client, connection, false);
            } catch (IOException closed) {
                return;
            }
        }
    }

    private static void pump(Socket from, Socket to, Connection connection, boolean fromClient) {
        Thread pump = new Thread(
                () -> {
                    RecordParser parser = new RecordParser(connection, fromClient);
                    byte[] buffer = new byte[64 * 1024];
                    try (InputStream in = from.getInputStream()) {
                        OutputStream out = to.getOutputStream();
                        for (int n; (n = in.read(buffer)) > 0; ) {
                            parser.feed(buffer, n);
                            out.write(buffer, 0, n);
                        }
                        to.shutdownOutput();
                    } catch (IOException gone) {
                        try {
                            to.close();
                        } catch (IOException ignored) {
                            // Closing after a failure: nothing left to tell.
                        }
                    } finally {
                        connection.ended.countDown();
                    }
                },
                "tls-record-tap-" + (fromClient ? "up" : "down"));
        pump.setDaemon(true);
        pump.start();
    }

    /** Finds record boundaries in one direction's byte stream: a 5-byte header gives each record's length. */
    private static final class RecordParser {
        private final Connection connection;
        private final boolean fromClient;
        private final byte[] header = new byte[5];
        private int headerRead;
        private int bodyLeft = -1;

        RecordParser(Connection connection, boolean fromClient) {
            this.connection = connection;
            this.fromClient = fromClient;
        }

        void feed(byte[] bytes, int length) {
            int i = 0;
            while (i < length) {
                if (bodyLeft < 0) {
                    int n = Math.min(5 - headerRead, length - i);
                    System.arraycopy(bytes, i, header, headerRead, n);
                    headerRead += n;
                    i += n;
                    if (headerRead == 5) {
                        headerRead = 0;
                        bodyLeft = (header[3] & 0xFF) << 8 | header[4] & 0xFF;
                        connection.add(new Record(fromClient, header[0] & 0xFF, 5 + bodyLeft, System.nanoTime()));
                    }
                } else {
                    int n = Math.min(bodyLeft, length - i);
                    i += n;
                    bodyLeft -= n;
                }
                if (bodyLeft == 0) {
                    bodyLeft = -1;
                }
            }
        }
    }

    @Override
    public void close() throws IOException {
        server.close();
        for (Socket socket : sockets) {
            socket.close();
        }
    }
}
