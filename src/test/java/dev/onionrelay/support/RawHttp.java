package dev.onionrelay.support;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.Socket;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;
import java.util.Locale;

/**
 * HTTP/1.1 written by hand on a socket, for what {@link java.net.http.HttpClient} refuses to send: {@code CONNECT},
 * raw bytes in the request line, broken framing, bodies larger than the server wants to read.
 */
public final class RawHttp {

    private RawHttp() {}

    /** The status and the parts of a response tests look at. */
    public record Response(int status, String contentType, String body) {}

    /** Sends the bytes as they are and reads the answer until the server closes (the request should say so). */
    public static Response exchange(int port, byte[] request) {
        try (Socket socket = new Socket(InetAddress.getLoopbackAddress(), port)) {
            socket.setSoTimeout(20_000);
            OutputStream out = socket.getOutputStream();
            try {
                out.write(request);
                out.flush();
            } catch (SocketException e) {
                // The server answered and closed before taking everything: its answer is still to be read.
            }
            return parse(readAll(socket.getInputStream()));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * Sends the request head, then from another thread a chunked body of {@code prefix}, {@code padding} spaces (which
     * JSON ignores between tokens) and {@code suffix}, while reading the answer.
     */
    public static Response chunked(int port, String head, String prefix, long padding, String suffix) {
        try (Socket socket = new Socket(InetAddress.getLoopbackAddress(), port)) {
            socket.setSoTimeout(20_000);
            OutputStream out = socket.getOutputStream();
            out.write(head.getBytes(StandardCharsets.ISO_8859_1));
            Thread writer = new Thread(() -> writeChunks(out, prefix, padding, suffix), "chunked-body");
            writer.setDaemon(true);
            writer.start();
            return parse(readAll(socket.getInputStream()));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static void writeChunks(OutputStream out, String prefix, long padding, String suffix) {
        byte[] chunk = new byte[16 * 1024];
        java.util.Arrays.fill(chunk, (byte) ' ');
        try {
            writeChunk(out, prefix.getBytes(StandardCharsets.UTF_8));
            for (long sent = 0; sent < padding; sent += chunk.length) {
                writeChunk(out, chunk);
            }
            writeChunk(out, suffix.getBytes(StandardCharsets.UTF_8));
            out.write("0\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            out.flush();
        } catch (IOException e) {
            // The server stopped reading: expected once it has refused the body.
        }
    }

    private static void writeChunk(OutputStream out, byte[] chunk) throws IOException {
        out.write((Integer.toHexString(chunk.length) + "\r\n").getBytes(StandardCharsets.US_ASCII));
        out.write(chunk);
        out.write("\r\n".getBytes(StandardCharsets.US_ASCII));
    }

    /**
     * A connection to the loopback port from {@code local}, any address of 127.0.0.0/8 on Linux: one machine plays many
     * clients, each with its own address.
     */
    public static Socket connectFrom(InetAddress local, int port) {
        try {
            Socket socket = new Socket();
            socket.bind(new java.net.InetSocketAddress(local, 0));
            socket.connect(new java.net.InetSocketAddress(InetAddress.getLoopbackAddress(), port), 5_000);
            return socket;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * Reads what the server sends until it closes the connection, for at most {@code timeoutMillis}: the answer (empty
     * when it closed without one), or null when the connection is still open at the end.
     */
    public static @org.jspecify.annotations.Nullable String readUntilClosed(Socket socket, long timeoutMillis) {
        long deadline = System.nanoTime() + timeoutMillis * 1_000_000;
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        byte[] buffer = new byte[8192];
        try {
            InputStream in = socket.getInputStream();
            while (true) {
                long left = (deadline - System.nanoTime()) / 1_000_000;
                if (left <= 0) {
                    return null;
                }
                socket.setSoTimeout((int) Math.max(1, left));
                int read = in.read(buffer);
                if (read < 0) {
                    return bytes.toString(StandardCharsets.UTF_8);
                }
                bytes.write(buffer, 0, read);
            }
        } catch (java.net.SocketTimeoutException e) {
            return null;
        } catch (IOException e) {
            // Reset by the server: closed as well.
            return bytes.toString(StandardCharsets.UTF_8);
        }
    }

    private static byte[] readAll(InputStream in) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        byte[] buffer = new byte[8192];
        try {
            for (int read; (read = in.read(buffer)) >= 0; ) {
                bytes.write(buffer, 0, read);
            }
        } catch (SocketException e) {
            // A reset after the answer: keep what arrived.
        }
        return bytes.toByteArray();
    }

    private static Response parse(byte[] raw) {
        String text = new String(raw, StandardCharsets.UTF_8);
        int headEnd = text.indexOf("\r\n\r\n");
        if (!text.startsWith("HTTP/1.1 ") || headEnd < 0) {
            throw new IllegalStateException("not an HTTP response: " + text.substring(0, Math.min(200, text.length())));
        }
        int status = Integer.parseInt(text.substring(9, 12));
        String contentType = "";
        boolean chunkedBody = false;
        for (String line : text.substring(0, headEnd).split("\r\n")) {
            String lower = line.toLowerCase(Locale.ROOT);
            if (lower.startsWith("content-type:")) {
                contentType = line.substring(13).trim();
            } else if (lower.startsWith("transfer-encoding:") && lower.contains("chunked")) {
                chunkedBody = true;
            }
        }
        String body = text.substring(headEnd + 4);
        return new Response(status, contentType, chunkedBody ? dechunk(body) : body);
    }

    private static String dechunk(String body) {
        StringBuilder out = new StringBuilder();
        int at = 0;
        while (at < body.length()) {
            int lineEnd = body.indexOf("\r\n", at);
            if (lineEnd < 0) {
                break;
            }
            int size = Integer.parseInt(body.substring(at, lineEnd).trim(), 16);
            if (size == 0) {
                break;
            }
            out.append(body, lineEnd + 2, lineEnd + 2 + size);
            at = lineEnd + 2 + size + 2;
        }
        return out.toString();
    }
}
