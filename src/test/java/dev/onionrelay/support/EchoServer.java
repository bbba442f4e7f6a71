package dev.onionrelay.support;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A plain TCP echo target on loopback. Echoes until the client half-closes, then half-closes too. Optionally records
 * everything it receives, so tests can look at what reached the target.
 */
public final class EchoServer implements AutoCloseable {

    private final ServerSocket server;
    private final CopyOnWriteArrayList<Socket> sockets = new CopyOnWriteArrayList<>();
    private final java.io.ByteArrayOutputStream received = new java.io.ByteArrayOutputStream();
    private final boolean record;
    private final int socketBuffer;

    public EchoServer() throws IOException {
        this(false);
    }

    /**
     * An echo whose sockets have {@code bytes} of kernel buffer each way instead of the kernel's autotuned ones: a
     * target that keeps little in flight (tests that fill every buffer of many tunnels).
     */
    public static EchoServer withSocketBuffers(int bytes) throws IOException {
        return new EchoServer(false, 0, bytes);
    }

    public EchoServer(boolean record) throws IOException {
        this(record, 0);
    }

    /** An echo server on a given loopback port (a target that comes back on the port it had). */
    public EchoServer(boolean record, int port) throws IOException {
        this(record, port, 0);
    }

    private EchoServer(boolean record, int port, int socketBuffer) throws IOException {
        this.record = record;
        this.socketBuffer = socketBuffer;
        server = new ServerSocket();
        server.setReuseAddress(true);
        if (socketBuffer > 0) {
            // Accepted sockets take the listener's receive buffer (set before bind, so the window scale fits it).
            server.setReceiveBufferSize(socketBuffer);
        }
        server.bind(new java.net.InetSocketAddress(InetAddress.getLoopbackAddress(), port), 50);
        Thread acceptor = new Thread(this::acceptLoop, "echo-accept");
        acceptor.setDaemon(true);
        acceptor.start();
    }

    public int port() {
        return server.getLocalPort();
    }

    /** Connections accepted so far. */
    public int connections() {
        return sockets.size();
    }

    /** Everything received so far over all connections (when recording). */
    public byte[] received() {
        synchronized (received) {
            return received.toByteArray();
        }
    }

    private void acceptLoop() {
        while (!server.isClosed()) {
            try {
                Socket socket = server.accept();
                if (socketBuffer > 0) {
                    socket.setSendBufferSize(socketBuffer);
                }
                sockets.add(socket);
                Thread worker = new Thread(() -> echo(socket), "echo");
                worker.setDaemon(true);
                worker.start();
            } catch (IOException closed) {
                return;
            }
        }
    }

    private void echo(Socket socket) {
        try (socket) {
            InputStream in = socket.getInputStream();
            OutputStream out = socket.getOutputStream();
            byte[] buffer = new byte[64 * 1024];
            int n;
            while ((n = in.read(buffer)) > 0) {
                if (record) {
                    synchronized (received) {
                        received.write(buffer, 0, n);
                    }
                }
                out.write(buffer, 0, n);
            }
            socket.shutdownOutput();
        } catch (IOException ignored) {
            // The peer went away: nothing to echo.
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
