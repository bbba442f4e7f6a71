package dev.onionrelay.api.security;

import dev.onionrelay.api.Problem;
import jakarta.servlet.FilterChain;
import jakarta.servlet.ReadListener;
import jakarta.servlet.ServletException;
import jakarta.servlet.ServletInputStream;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletRequestWrapper;
import jakarta.servlet.http.HttpServletResponse;
import java.io.BufferedReader;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.UnsupportedEncodingException;
import java.net.SocketTimeoutException;
import java.nio.charset.Charset;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import org.springframework.http.HttpStatus;
import org.springframework.web.filter.OncePerRequestFilter;

/**
 * Refuses request bodies larger than {@code onion.limits.max-request-size} with 413, whatever their framing: a
 * declared length is checked before anything is read, and every body (chunked ones have no length) is read into
 * memory only up to the limit and one byte more. Whoever reads the body later reads that copy.
 *
 * <p>The body must also arrive within {@code onion.api.request-body-timeout} (408 otherwise), because Tomcat's read
 * timeout is only the longest silence between two reads: a body trickled at one byte per 5 s held its worker for over
 * 315 s. The deadline is checked after each read, and each read waits at most {@code
 * server.tomcat.connection-timeout}, so a body holds a worker for at most the sum of the two. Runs after the token
 * check: the body of a caller without a valid token is never read (its connection is closed with the answer, see
 * {@code UnreadBodyValve}).
 */
public final class RequestSizeFilter extends OncePerRequestFilter {

    private final long maxBytes;
    private final Duration bodyTimeout;

    public RequestSizeFilter(long maxBytes, Duration bodyTimeout) {
        this.maxBytes = maxBytes;
        this.bodyTimeout = bodyTimeout;
    }

    @Override
    protected void doFilterInternal(HttpServletRequest request, HttpServletResponse response, FilterChain chain)
            throws ServletException, IOException {
        long length = request.getContentLengthLong();
        if (length > maxBytes) {
            tooLarge(request, response, "the body has " + length + " bytes");
            return;
        }
        byte[] body;
        try {
            body = readAtMost(request.getInputStream(), maxBytes + 1);
        } catch (BodyTooSlowException e) {
            tooSlow(request, response);
            return;
        }
        if (body.length > maxBytes) {
            tooLarge(request, response, "the body has more than " + maxBytes + " bytes");
            return;
        }
        chain.doFilter(new ReadBody(request, body), response);
    }

    private void tooLarge(HttpServletRequest request, HttpServletResponse response, String what) throws IOException {
        // The rest of the body is not read: the connection closes instead of waiting for it.
        response.setHeader("Connection", "close");
        Problem.of(
                        HttpStatus.CONTENT_TOO_LARGE.value(),
                        "request body too large",
                        what + "; at most " + maxBytes + " are accepted (onion.limits.max-request-size)")
                .write(request, response);
    }

    private void tooSlow(HttpServletRequest request, HttpServletResponse response) throws IOException {
        response.setHeader("Connection", "close");
        Problem.of(
                        HttpStatus.REQUEST_TIMEOUT.value(),
                        "request body too slow",
                        "the body did not arrive within " + bodyTimeout.toSeconds()
                                + " s (onion.api.request-body-timeout, and server.tomcat.connection-timeout between"
                                + " two reads)")
                .write(request, response);
    }

    private byte[] readAtMost(InputStream in, long limit) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        byte[] buffer = new byte[8192];
        long left = limit;
        long deadline = System.nanoTime() + bodyTimeout.toNanos();
        while (left > 0) {
            int read;
            try {
                read = in.read(buffer, 0, (int) Math.min(buffer.length, left));
            } catch (IOException e) {
                if (timedOut(e)) {
                    throw new BodyTooSlowException();
                }
                throw e;
            }
            if (read < 0) {
                break;
            }
            out.write(buffer, 0, read);
            left -= read;
            if (!bodyTimeout.isZero() && left > 0 && System.nanoTime() - deadline > 0) {
                throw new BodyTooSlowException();
            }
        }
        return out.toByteArray();
    }

    /** Tomcat's read timeout, as thrown to a servlet (wrapped or not). */
    private static boolean timedOut(IOException e) {
        for (Throwable cause = e; cause != null; cause = cause.getCause()) {
            if (cause instanceof SocketTimeoutException) {
                return true;
            }
        }
        return false;
    }

    /** The body did not arrive in time: answered with 408. */
    private static final class BodyTooSlowException extends IOException {
        BodyTooSlowException() {
            super("request body too slow");
        }
    }

    /** The request with its body already read (and known to be within the limit). */
    private static final class ReadBody extends HttpServletRequestWrapper {

        private final byte[] body;

        ReadBody(HttpServletRequest request, byte[] body) {
            super(request);
            this.body = body;
        }

        @Override
        public ServletInputStream getInputStream() {
            ByteArrayInputStream in = new ByteArrayInputStream(body);
            return new ServletInputStream() {
                @Override
                public int read() {
                    return in.read();
                }

                @Override
                public int read(byte[] b, int off, int len) {
                    return in.read(b, off, len);
                }

                @Override
                public boolean isFinished() {
                    return in.available() == 0;
                }

                @Override
                public boolean isReady() {
                    return true;
                }

                @Override
                public void setReadListener(ReadListener listener) {
                    throw new UnsupportedOperationException("the body is already read");
                }
            };
        }

        @Override
        public BufferedReader getReader() throws UnsupportedEncodingException {
            String encoding = getCharacterEncoding();
            Charset charset;
            try {
                charset = encoding != null ? Charset.forName(encoding) : StandardCharsets.UTF_8;
            } catch (IllegalArgumentException e) {
                throw new UnsupportedEncodingException(encoding);
            }
            return new BufferedReader(new InputStreamReader(getInputStream(), charset));
        }

        @Override
        public int getContentLength() {
            return body.length;
        }

        @Override
        public long getContentLengthLong() {
            return body.length;
        }
    }
}
