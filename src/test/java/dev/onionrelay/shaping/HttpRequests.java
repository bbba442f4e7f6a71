package dev.onionrelay.shaping;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * The request and response sizes every traffic class draws from, so that a detector cannot tell the classes apart by
 * what the application sends: a GET with a random 0-3000-byte header (as in issue 27's measurement) for a body of 0 to
 * 8000 bytes, which puts both the first client record and the server's answer across the sizes a tunnel's inner
 * handshake has.
 */
final class HttpRequests {

    static final int MAX_PAD = 3000;
    static final int MAX_BODY = 8000;

    private HttpRequests() {}

    /** One request: the X-Pad header's length and the body size asked for. */
    record Size(int pad, int body) {}

    /** {@code count} request sizes for one connection. */
    static List<Size> draw(Random random, int count) {
        List<Size> sizes = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            sizes.add(new Size(random.nextInt(MAX_PAD + 1), random.nextInt(MAX_BODY + 1)));
        }
        return sizes;
    }

    /** The request curl would send for {@code size} (its header set), closing the connection after it if {@code last}. */
    static byte[] request(Size size, boolean last) {
        String request = "GET /bytes/" + size.body() + " HTTP/1.1\r\n"
                + "Host: localhost\r\n"
                + "User-Agent: curl/7.88.1\r\n"
                + "Accept: */*\r\n"
                + "X-Pad: " + "p".repeat(size.pad()) + "\r\n"
                + (last ? "Connection: close\r\n" : "")
                + "\r\n";
        return request.getBytes(StandardCharsets.US_ASCII);
    }

    /** Reads one response (head and Content-Length body) and returns its body length. */
    static int readResponse(InputStream in) throws IOException {
        ByteArrayOutputStream head = new ByteArrayOutputStream();
        int matched = 0;
        while (matched < 4) {
            int b = in.read();
            if (b < 0) {
                throw new IOException("the response ended in its head: " + head);
            }
            head.write(b);
            matched = (b == (matched % 2 == 0 ? '\r' : '\n')) ? matched + 1 : (b == '\r' ? 1 : 0);
        }
        int length = 0;
        for (String line : head.toString(StandardCharsets.US_ASCII).split("\r\n")) {
            if (line.toLowerCase(java.util.Locale.ROOT).startsWith("content-length:")) {
                length = Integer.parseInt(
                        line.substring("content-length:".length()).trim());
            }
        }
        byte[] body = in.readNBytes(length);
        if (body.length != length) {
            throw new IOException("short body: " + body.length + " of " + length);
        }
        return length;
    }
}
