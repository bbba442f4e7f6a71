package dev.onionrelay.support;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.Socket;
import java.net.SocketException;
import java.nio.ByteBuffer;
import java.security.cert.X509Certificate;
import java.util.Arrays;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLEngineResult.HandshakeStatus;
import javax.net.ssl.SSLException;
import javax.net.ssl.TrustManager;
import javax.net.ssl.X509TrustManager;

/**
 * A TLS client over a plain socket that walks away from its handshake at a chosen point, the way port scanners,
 * health checks, impatient users and crashing clients do: it closes (FIN) or resets (RST) the connection.
 */
public final class AbortingClient {

    /** How far the handshake gets before the client leaves. */
    public enum Point {
        /** Connects and leaves without sending a byte. */
        BEFORE_ANY_BYTE,
        /** Sends the first 20 bytes of its ClientHello. */
        PARTIAL_CLIENT_HELLO,
        /** Sends its whole ClientHello and leaves without reading the answer. */
        AFTER_CLIENT_HELLO,
        /** Reads the server's whole flight and leaves instead of sending its Finished. */
        AFTER_SERVER_FLIGHT
    }

    /** How the client leaves. */
    public enum Leave {
        CLOSE,
        RESET
    }

    private AbortingClient() {}

    /** Something to wait for once connected. */
    @FunctionalInterface
    public interface Step {
        void run() throws Exception;
    }

    /** Connects to {@code port} on loopback, handshakes TLS 1.3 up to {@code point}, then leaves. */
    public static void run(int port, Point point, Leave leave) throws Exception {
        run(port, point, leave, () -> {});
    }

    /** The same, running {@code whenConnected} right after the TCP connection is up. */
    public static void run(int port, Point point, Leave leave, Step whenConnected) throws Exception {
        SSLEngine engine = trustingContext().createSSLEngine("localhost", port);
        engine.setUseClientMode(true);
        engine.setEnabledProtocols(new String[] {"TLSv1.3"});
        try (Socket socket = new Socket(InetAddress.getLoopbackAddress(), port)) {
            socket.setSoTimeout(5_000);
            whenConnected.run();
            if (point != Point.BEFORE_ANY_BYTE) {
                byte[] hello = wrap(engine);
                socket.getOutputStream().write(point == Point.PARTIAL_CLIENT_HELLO ? Arrays.copyOf(hello, 20) : hello);
                socket.getOutputStream().flush();
            }
            if (point == Point.AFTER_SERVER_FLIGHT) {
                readServerFlight(engine, socket.getInputStream());
            }
            if (leave == Leave.RESET) {
                socket.setSoLinger(true, 0);
            }
        }
    }

    /**
     * Feeds the server's records to the engine until it has taken the whole flight (through the server's Finished).
     * What the engine wants to send meanwhile (its Finished) is made and thrown away.
     */
    private static void readServerFlight(SSLEngine engine, InputStream in) throws IOException {
        ByteBuffer received = ByteBuffer.allocate(64 * 1024);
        ByteBuffer plain = ByteBuffer.allocate(64 * 1024);
        byte[] chunk = new byte[16 * 1024];
        received.flip();
        while (true) {
            HandshakeStatus status = engine.getHandshakeStatus();
            if (status == HandshakeStatus.FINISHED || status == HandshakeStatus.NOT_HANDSHAKING) {
                return;
            }
            if (status == HandshakeStatus.NEED_TASK) {
                engine.getDelegatedTask().run();
            } else if (status == HandshakeStatus.NEED_WRAP) {
                if (wrap(engine).length == 0 && engine.getHandshakeStatus() == HandshakeStatus.NEED_WRAP) {
                    return;
                }
            } else if (engine.unwrap(received, plain).bytesConsumed() == 0) {
                received.compact();
                int n = in.read(chunk);
                if (n < 0) {
                    throw new SocketException("the server closed before its flight was complete");
                }
                received.put(chunk, 0, n);
                received.flip();
            }
        }
    }

    private static byte[] wrap(SSLEngine engine) throws SSLException {
        ByteBuffer out = ByteBuffer.allocate(engine.getSession().getPacketBufferSize());
        engine.wrap(ByteBuffer.allocate(0), out);
        out.flip();
        byte[] bytes = new byte[out.remaining()];
        out.get(bytes);
        return bytes;
    }

    private static SSLContext trustingContext() throws Exception {
        SSLContext context = SSLContext.getInstance("TLS");
        context.init(
                null,
                new TrustManager[] {
                    new X509TrustManager() {
                        @Override
                        public void checkClientTrusted(X509Certificate[] chain, String authType) {}

                        @Override
                        public void checkServerTrusted(X509Certificate[] chain, String authType) {}

                        @Override
                        public X509Certificate[] getAcceptedIssuers() {
                            return new X509Certificate[0];
                        }
                    }
                },
                null);
        return context;
    }
}
