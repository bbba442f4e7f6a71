package dev.onionrelay.support;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.Socket;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Random;
import java.util.concurrent.CompletableFuture;

/** Pushes a deterministic pseudo-random stream through an echo path and checks what comes back. */
public final class Traffic {

    private Traffic() {}

    /** Result of one echo run: how much went each way and the SHA-256 of each direction. */
    public record Echo(long sent, long received, String sentSha256, String receivedSha256) {
        public boolean intact() {
            return sent == received && sentSha256.equals(receivedSha256);
        }
    }

    /**
     * Connects to {@code port} on loopback, sends {@code bytes} while reading the echo concurrently, half-closes,
     * and reads until the far end closes.
     */
    public static Echo echo(int port, long bytes) throws Exception {
        try (Socket socket = new Socket(InetAddress.getLoopbackAddress(), port)) {
            socket.setSoTimeout(60_000);
            return echoOn(socket, bytes);
        }
    }

    /** Like {@link #echo} on a connection that is open already; the caller closes it. */
    public static Echo echoOn(Socket socket, long bytes) throws Exception {
        MessageDigest sentDigest = sha256();
        CompletableFuture<Void> writer = CompletableFuture.runAsync(() -> {
            try {
                OutputStream out = socket.getOutputStream();
                Random random = new Random(bytes);
                byte[] chunk = new byte[32 * 1024];
                long left = bytes;
                while (left > 0) {
                    int n = (int) Math.min(chunk.length, left);
                    random.nextBytes(chunk);
                    sentDigest.update(chunk, 0, n);
                    out.write(chunk, 0, n);
                    left -= n;
                }
                socket.shutdownOutput();
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        });
        MessageDigest receivedDigest = sha256();
        InputStream in = socket.getInputStream();
        byte[] buffer = new byte[64 * 1024];
        long received = 0;
        int n;
        while ((n = in.read(buffer)) > 0) {
            receivedDigest.update(buffer, 0, n);
            received += n;
        }
        writer.get();
        return new Echo(
                bytes,
                received,
                HexFormat.of().formatHex(sentDigest.digest()),
                HexFormat.of().formatHex(receivedDigest.digest()));
    }

    /**
     * Like {@link #echo} but without half-close: sends {@code bytes} while reading the echo concurrently, stops once
     * as many bytes came back, then closes. For tests that are not about half-close, and for paths that cannot carry
     * data after the client's end of input (Netty's OpenSSL engine as shipped, see EngineHalfCloseTest).
     */
    public static Echo echoThenClose(int port, long bytes) throws Exception {
        return echoThenClose(port, bytes, bytes, () -> {});
    }

    /**
     * Like {@link #echoThenClose(int, long)}, and runs {@code midway} once the first {@code midwayAt} bytes of the echo
     * came back, while both directions are streaming: for acting on the tunnel under load.
     */
    public static Echo echoThenClose(int port, long bytes, long midwayAt, Runnable midway) throws Exception {
        try (Socket socket = new Socket(InetAddress.getLoopbackAddress(), port)) {
            // A stall means bytes went missing: fail within seconds rather than a minute.
            socket.setSoTimeout(midwayAt < bytes ? 15_000 : 60_000);
            MessageDigest sentDigest = sha256();
            CompletableFuture<Void> writer = CompletableFuture.runAsync(() -> {
                try {
                    OutputStream out = socket.getOutputStream();
                    Random random = new Random(bytes);
                    byte[] chunk = new byte[32 * 1024];
                    long left = bytes;
                    while (left > 0) {
                        int n = (int) Math.min(chunk.length, left);
                        random.nextBytes(chunk);
                        sentDigest.update(chunk, 0, n);
                        out.write(chunk, 0, n);
                        left -= n;
                    }
                    out.flush();
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            });
            MessageDigest receivedDigest = sha256();
            InputStream in = socket.getInputStream();
            byte[] buffer = new byte[64 * 1024];
            long received = 0;
            int n;
            boolean midwayDone = false;
            while (received < bytes && (n = in.read(buffer, 0, (int) Math.min(buffer.length, bytes - received))) > 0) {
                receivedDigest.update(buffer, 0, n);
                received += n;
                if (!midwayDone && received >= midwayAt) {
                    midwayDone = true;
                    midway.run();
                }
            }
            writer.get();
            return new Echo(
                    bytes,
                    received,
                    HexFormat.of().formatHex(sentDigest.digest()),
                    HexFormat.of().formatHex(receivedDigest.digest()));
        }
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
