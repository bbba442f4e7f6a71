package dev.onionrelay.relay.proxy;

import dev.onionrelay.relay.Endpoint;
import io.netty.buffer.ByteBuf;
import java.nio.charset.StandardCharsets;
import org.jspecify.annotations.Nullable;

/**
 * One HTTP/1.1 {@code CONNECT host:port} request (RFC 9110, 9.3.6), read as a proxy does: the request line and the
 * header block up to the empty line, at most {@link #MAX_REQUEST_BYTES}; headers are read past ({@code
 * Proxy-Authorization} included) and bytes after the empty line stay in the buffer as the client's first data.
 * Answers are short plain-text responses: {@code 200 Connection Established}, or 400 (malformed), 405 (another method),
 * 408 (not finished in time), 431 (too large), 403 (policy), 502 (refused, unreachable), 504 (connect timed out).
 */
public final class HttpConnectRequest implements ProxyHandshake {

    @Override
    public String mode() {
        return "connect";
    }

    @Override
    public Step offer(ByteBuf in) {
        int start = in.readerIndex();
        int firstLineEnd = in.indexOf(start, in.writerIndex(), (byte) '\n');
        if (firstLineEnd >= 0) {
            // A malformed request line is refused as soon as it is complete, without waiting for headers that may
            // never come.
            Object target = requestLine(line(in, start, firstLineEnd));
            if (target instanceof Step.Refusal refusal) {
                return refusal;
            }
        }
        int end = headerEnd(in);
        if (end < 0) {
            return in.readableBytes() > MAX_REQUEST_BYTES ? tooLarge() : new Step.NeedMore(null);
        }
        if (end - start > MAX_REQUEST_BYTES) {
            return tooLarge();
        }
        String head = in.toString(start, end - start, StandardCharsets.ISO_8859_1);
        String[] lines = head.split("\r?\n", -1);
        Object target = requestLine(lines[0]);
        if (target instanceof Step.Refusal refusal) {
            return refusal;
        }
        for (int i = 1; i < lines.length; i++) {
            String header = lines[i];
            if (header.isEmpty()) {
                continue;
            }
            int colon = header.indexOf(':');
            if (colon <= 0 || !token(header.substring(0, colon))) {
                return refusal(400, "Bad Request", "malformed header line");
            }
        }
        in.readerIndex(end);
        return new Step.Destination((Endpoint) target);
    }

    /** The index just after the empty line that ends the header block, or -1 while there is none. */
    private static int headerEnd(ByteBuf in) {
        int from = in.readerIndex();
        int limit = in.writerIndex();
        while (true) {
            int newline = in.indexOf(from, limit, (byte) '\n');
            if (newline < 0) {
                return -1;
            }
            int next = newline + 1;
            if (next < limit && in.getByte(next) == '\n') {
                return next + 1;
            }
            if (next + 1 < limit && in.getByte(next) == '\r' && in.getByte(next + 1) == '\n') {
                return next + 2;
            }
            if (next >= limit || (next + 1 >= limit && in.getByte(next) == '\r')) {
                return -1;
            }
            from = next;
        }
    }

    private static String line(ByteBuf in, int start, int newline) {
        String line = in.toString(start, newline - start, StandardCharsets.ISO_8859_1);
        return line.endsWith("\r") ? line.substring(0, line.length() - 1) : line;
    }

    /** The destination of a request line, or the refusal for it. */
    static Object requestLine(String line) {
        String[] parts = line.split(" ", -1);
        if (parts.length != 3 || !token(parts[0])) {
            return refusal(400, "Bad Request", "malformed request line");
        }
        if (!parts[2].equals("HTTP/1.1") && !parts[2].equals("HTTP/1.0")) {
            return refusal(400, "Bad Request", "not an HTTP/1.x request");
        }
        if (!parts[0].equals("CONNECT")) {
            return refusal(405, "Method Not Allowed", "only CONNECT is served here");
        }
        Endpoint destination = authority(parts[1]);
        if (destination == null) {
            return refusal(400, "Bad Request", "the request target must be host:port");
        }
        return destination;
    }

    /** {@code host:port} or {@code [v6]:port}; null when it is neither. */
    static @Nullable Endpoint authority(String authority) {
        String host;
        String port;
        if (authority.startsWith("[")) {
            int close = authority.indexOf(']');
            if (close < 0 || close + 1 >= authority.length() || authority.charAt(close + 1) != ':') {
                return null;
            }
            host = authority.substring(1, close);
            port = authority.substring(close + 2);
            if (host.isEmpty() || !host.chars().allMatch(c -> c == ':' || c == '.' || Character.digit(c, 16) >= 0)) {
                return null;
            }
        } else {
            int colon = authority.lastIndexOf(':');
            if (colon <= 0) {
                return null;
            }
            host = authority.substring(0, colon);
            port = authority.substring(colon + 1);
            if (!hostName(host)) {
                return null;
            }
        }
        if (port.isEmpty() || port.length() > 5 || !port.chars().allMatch(c -> c >= '0' && c <= '9')) {
            return null;
        }
        int number = Integer.parseInt(port);
        return number >= 1 && number <= 65535 ? new Endpoint(host, number) : null;
    }

    /** A DNS name or IPv4 address: letters, digits, '-', '.', '_', at most 253 characters. */
    static boolean hostName(String host) {
        return !host.isEmpty()
                && host.length() <= 253
                && host.chars()
                        .allMatch(c -> (c >= 'a' && c <= 'z')
                                || (c >= 'A' && c <= 'Z')
                                || (c >= '0' && c <= '9')
                                || c == '-'
                                || c == '.'
                                || c == '_');
    }

    private static boolean token(String s) {
        return !s.isEmpty() && s.chars().allMatch(c -> c > 32 && c < 127 && "()<>@,;:\\\"/[]?={}".indexOf(c) < 0);
    }

    private static Step.Refusal tooLarge() {
        return refusal(431, "Request Header Fields Too Large", "request larger than " + MAX_REQUEST_BYTES + " bytes");
    }

    private static Step.Refusal refusal(int status, String reason, String why) {
        return new Step.Refusal(response(status, reason, why), why);
    }

    @Override
    public byte[] answer(ProxyOutcome outcome) {
        return switch (outcome) {
            case GRANTED -> "HTTP/1.1 200 Connection Established\r\n\r\n".getBytes(StandardCharsets.US_ASCII);
            case DENIED -> response(403, "Forbidden", "destination not allowed by policy");
            case REFUSED -> response(502, "Bad Gateway", "destination refused the connection");
            case UNREACHABLE -> response(502, "Bad Gateway", "destination unreachable");
            case TIMEOUT -> response(504, "Gateway Timeout", "connect to destination timed out");
            case BAD_REQUEST -> response(400, "Bad Request", "bad request");
        };
    }

    @Override
    public byte[] timedOut() {
        return response(408, "Request Timeout", "request not received in time");
    }

    /** A complete response with a short plain-text body; the connection closes after it. */
    static byte[] response(int status, String reason, String body) {
        String text = body + "\n";
        return ("HTTP/1.1 " + status + " " + reason + "\r\n"
                        + (status == 405 ? "Allow: CONNECT\r\n" : "")
                        + "Content-Type: text/plain\r\n"
                        + "Content-Length: " + text.length() + "\r\n"
                        + "Connection: close\r\n\r\n"
                        + text)
                .getBytes(StandardCharsets.US_ASCII);
    }
}
