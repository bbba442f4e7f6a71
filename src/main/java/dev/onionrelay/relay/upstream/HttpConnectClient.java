package dev.onionrelay.relay.upstream;

import dev.onionrelay.relay.Endpoint;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelPipeline;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;
import io.netty.util.concurrent.ScheduledFuture;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Asks an HTTP proxy for a tunnel: sends {@code CONNECT host:port HTTP/1.1} (with {@code Host:}) from where it sits in
 * the pipeline, so that the request travels through every layer outside it, and waits for the answer. A 2xx status
 * grants the tunnel; anything else, an answer over {@link #MAX_ANSWER} bytes, no answer within the timeout or a close
 * fails it with a {@link ProxyConnectException}. Bytes the proxy sent after its answer (a server that speaks first
 * through the tunnel) go on to whatever the caller put in place once the result completed.
 *
 * <p>Used for a plain proxy reached first ({@code target.via}, on the TCP connection) and for an HTTPS proxy hop (an
 * egress layer's {@code connect}, inside that layer). Runs on the channel's event loop.
 */
public final class HttpConnectClient extends ChannelInboundHandlerAdapter {

    /** Most bytes of status line and headers taken from a proxy. */
    public static final int MAX_ANSWER = 8 * 1024;

    private static final AtomicLong SEQUENCE = new AtomicLong();

    private final Endpoint destination;
    private final Duration timeout;
    private final Promise<Void> result;
    private ByteBuf answer;
    private ScheduledFuture<?> timer;

    private HttpConnectClient(Endpoint destination, Duration timeout, Promise<Void> result) {
        this.destination = destination;
        this.timeout = timeout;
        this.result = result;
    }

    /**
     * Puts a client before the handler named {@code before} and sends the request at once. The handler leaves the
     * pipeline when the result is known; listeners of the result run before bytes that followed the answer are passed
     * on, so they can add what must read them.
     */
    public static Future<Void> ask(ChannelPipeline pipeline, String before, Endpoint destination, Duration timeout) {
        Promise<Void> result = pipeline.channel().eventLoop().newPromise();
        pipeline.addBefore(
                before,
                "http-connect-" + SEQUENCE.incrementAndGet(),
                new HttpConnectClient(destination, timeout, result));
        return result;
    }

    /** The request line and headers for {@code destination}. */
    static String request(Endpoint destination) {
        String authority = destination.toString();
        return "CONNECT " + authority + " HTTP/1.1\r\nHost: " + authority + "\r\n\r\n";
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        answer = ctx.alloc().buffer(256);
        timer = ctx.executor()
                .schedule(
                        () -> fail(
                                ctx,
                                new ProxyConnectException(
                                        ProxyConnectException.TIMEOUT,
                                        "the proxy did not answer CONNECT " + destination + " within " + timeout)),
                        timeout.toMillis(),
                        TimeUnit.MILLISECONDS);
        ctx.writeAndFlush(Unpooled.copiedBuffer(request(destination), StandardCharsets.US_ASCII))
                .addListener(written -> {
                    if (!written.isSuccess()) {
                        fail(
                                ctx,
                                new ProxyConnectException(
                                        ProxyConnectException.CLOSED, "CONNECT " + destination + " could not be sent"));
                    }
                });
    }

    @Override
    public void handlerRemoved(ChannelHandlerContext ctx) {
        if (timer != null) {
            timer.cancel(false);
        }
        if (answer != null) {
            answer.release();
            answer = null;
        }
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (result.isDone()) {
            ctx.fireChannelRead(msg);
            return;
        }
        if (!(msg instanceof ByteBuf bytes)) {
            ReferenceCountUtil.release(msg);
            return;
        }
        try {
            int room = MAX_ANSWER + 1 - answer.readableBytes();
            int before = bytes.readerIndex();
            answer.writeBytes(bytes, Math.min(room, bytes.readableBytes()));
            int end = endOfHeaders(answer);
            if (end < 0) {
                if (answer.readableBytes() > MAX_ANSWER) {
                    fail(
                            ctx,
                            new ProxyConnectException(
                                    ProxyConnectException.BAD_ANSWER,
                                    "the proxy's answer to CONNECT " + destination + " exceeds " + MAX_ANSWER
                                            + " bytes"));
                }
                return;
            }
            // What followed the answer in this read stays in msg; bytes taken beyond the header block go back.
            int beyond = answer.readableBytes() - end;
            bytes.readerIndex(before + (bytes.readerIndex() - before) - beyond);
            String head = answer.toString(0, end, StandardCharsets.ISO_8859_1);
            granted(ctx, head, bytes.isReadable() ? bytes.retain() : null);
        } finally {
            bytes.release();
        }
    }

    private void granted(ChannelHandlerContext ctx, String head, ByteBuf rest) {
        String statusLine = head.substring(0, head.indexOf("\r\n"));
        String[] parts = statusLine.split(" ", 3);
        int status = -1;
        if (parts.length >= 2 && parts[0].startsWith("HTTP/1.") && parts[1].length() == 3) {
            try {
                status = Integer.parseInt(parts[1]);
            } catch (NumberFormatException notANumber) {
                status = -1;
            }
        }
        if (status < 0) {
            ReferenceCountUtil.release(rest);
            fail(
                    ctx,
                    new ProxyConnectException(
                            ProxyConnectException.BAD_ANSWER,
                            "the proxy's answer to CONNECT " + destination + " is not an HTTP status line: "
                                    + printable(statusLine)));
            return;
        }
        if (status / 100 != 2) {
            ReferenceCountUtil.release(rest);
            fail(
                    ctx,
                    new ProxyConnectException(
                            ProxyConnectException.REFUSED,
                            "the proxy refused CONNECT " + destination + ": " + printable(statusLine)));
            return;
        }
        timer.cancel(false);
        // Listeners put the next layer (or the splice) in place behind us before the bytes that follow are passed on.
        result.trySuccess(null);
        if (rest != null) {
            ctx.fireChannelRead(rest);
            ctx.fireChannelReadComplete();
        }
        if (ctx.pipeline().context(this) != null) {
            ctx.pipeline().remove(this);
        }
    }

    private void fail(ChannelHandlerContext ctx, ProxyConnectException cause) {
        if (result.tryFailure(cause) && ctx.pipeline().context(this) != null) {
            ctx.pipeline().remove(this);
        }
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object event) {
        if (event instanceof io.netty.channel.socket.ChannelInputShutdownEvent && !result.isDone()) {
            fail(ctx, closed());
        }
        ctx.fireUserEventTriggered(event);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        fail(ctx, closed());
        ctx.fireChannelInactive();
    }

    private ProxyConnectException closed() {
        return new ProxyConnectException(
                ProxyConnectException.CLOSED,
                "the proxy closed the connection before it answered CONNECT " + destination);
    }

    /** Index just past the blank line that ends the header block, or -1. */
    private static int endOfHeaders(ByteBuf buf) {
        int start = buf.readerIndex();
        for (int i = start; i + 3 < buf.writerIndex(); i++) {
            if (buf.getByte(i) == '\r'
                    && buf.getByte(i + 1) == '\n'
                    && buf.getByte(i + 2) == '\r'
                    && buf.getByte(i + 3) == '\n') {
                return i + 4 - start;
            }
        }
        return -1;
    }

    /** A proxy's words as they may go into a log line: printable ASCII, bounded. */
    private static String printable(String text) {
        StringBuilder out = new StringBuilder();
        for (int i = 0; i < text.length() && out.length() < 120; i++) {
            char c = text.charAt(i);
            out.append(c >= 0x20 && c < 0x7f ? c : '?');
        }
        return out.toString();
    }
}
