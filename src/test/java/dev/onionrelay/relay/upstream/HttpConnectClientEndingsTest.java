package dev.onionrelay.relay.upstream;

import static org.assertj.core.api.Assertions.assertThat;

import dev.onionrelay.relay.Endpoint;
import dev.onionrelay.support.LeakCheck;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOutboundHandlerAdapter;
import io.netty.channel.ChannelPromise;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.util.ReferenceCounted;
import io.netty.util.concurrent.Future;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * How a CONNECT through a proxy ends when it does not simply succeed, on an {@link EmbeddedChannel} with a hand-driven
 * clock: no answer within the timeout, the proxy closing or half-closing first, the request that cannot be written, an
 * answer at exactly the size limit; and what the caller is promised when it does succeed (the timer never fires
 * afterwards, a handler added by a listener of the result reads the bytes that came with the answer, nothing is
 * leaked). Complements {@link HttpConnectClientTest}, which covers the answers themselves.
 */
@ExtendWith(LeakCheck.class)
class HttpConnectClientEndingsTest {

    private static final Endpoint TARGET = new Endpoint("10.0.0.1", 443);
    private static final Duration TIMEOUT = Duration.ofSeconds(5);

    private EmbeddedChannel channel;
    private Behind behind;

    /** Collects what reaches the handler behind the client. */
    private static final class Behind extends ChannelInboundHandlerAdapter {
        final StringBuilder read = new StringBuilder();

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ByteBuf bytes = (ByteBuf) msg;
            read.append(bytes.toString(StandardCharsets.ISO_8859_1));
            bytes.release();
        }
    }

    private Future<Void> ask() {
        channel = new EmbeddedChannel();
        channel.freezeTime();
        behind = new Behind();
        channel.pipeline().addLast("splice", behind);
        Future<Void> result = HttpConnectClient.ask(channel.pipeline(), "splice", TARGET, TIMEOUT);
        ByteBuf request = channel.readOutbound();
        assertThat(request.toString(StandardCharsets.US_ASCII)).startsWith("CONNECT 10.0.0.1:443 HTTP/1.1\r\n");
        request.release();
        return result;
    }

    @AfterEach
    void finish() {
        if (channel != null) {
            channel.finishAndReleaseAll();
        }
    }

    private static ByteBuf ascii(String text) {
        return Unpooled.copiedBuffer(text, StandardCharsets.ISO_8859_1);
    }

    private static String reason(Future<Void> result) {
        assertThat(result.isDone()).isTrue();
        assertThat(result.cause()).isInstanceOf(ProxyConnectException.class);
        return ((ProxyConnectException) result.cause()).reason();
    }

    private boolean clientInPipeline() {
        return channel.pipeline().names().stream().anyMatch(name -> name.startsWith("http-connect-"));
    }

    @Test
    void noAnswerWithinTheTimeoutFailsAsProxyTimeout() {
        Future<Void> result = ask();
        channel.advanceTimeBy(TIMEOUT.toMillis() - 1, TimeUnit.MILLISECONDS);
        channel.runScheduledPendingTasks();
        assertThat(result.isDone()).as("not before the timeout").isFalse();
        channel.advanceTimeBy(1, TimeUnit.MILLISECONDS);
        channel.runScheduledPendingTasks();
        assertThat(reason(result)).isEqualTo(ProxyConnectException.TIMEOUT);
        assertThat(result.cause().getMessage()).contains("10.0.0.1:443").contains("PT5S");
        assertThat(clientInPipeline()).isFalse();
    }

    @Test
    void aPartAnswerDoesNotStopTheTimeout() {
        Future<Void> result = ask();
        channel.writeInbound(ascii("HTTP/1.1 200 Connection established\r\n"));
        channel.advanceTimeBy(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
        channel.runScheduledPendingTasks();
        assertThat(reason(result)).isEqualTo(ProxyConnectException.TIMEOUT);
        assertThat(clientInPipeline())
                .as("the caller closes the connection; the client is gone")
                .isFalse();
    }

    @Test
    void theTimerNeverFiresAfterAGrant() {
        Future<Void> result = ask();
        assertThat(channel.runScheduledPendingTasks())
                .as("the timeout is scheduled")
                .isNotNegative();
        channel.writeInbound(ascii("HTTP/1.1 200 OK\r\n\r\n"));
        assertThat(result.isSuccess()).isTrue();
        assertThat(channel.runScheduledPendingTasks())
                .as("the timer was cancelled with the grant: nothing keeps the tunnel reachable until it fires")
                .isEqualTo(-1);
        channel.advanceTimeBy(TIMEOUT.toMillis() * 2, TimeUnit.MILLISECONDS);
        channel.runScheduledPendingTasks();
        assertThat(result.isSuccess()).isTrue();
        assertThat(channel.isOpen()).isTrue();
        assertThat(clientInPipeline()).isFalse();
    }

    @Test
    void theProxyClosingBeforeItAnswersFailsAsProxyClosed() {
        Future<Void> result = ask();
        channel.writeInbound(ascii("HTTP/1.1 200"));
        channel.close();
        assertThat(reason(result)).isEqualTo(ProxyConnectException.CLOSED);
        assertThat(result.cause().getMessage()).contains("before it answered");
    }

    @Test
    void theProxyEndingItsDirectionBeforeItAnswersFailsAsProxyClosed() {
        Future<Void> result = ask();
        channel.pipeline().fireUserEventTriggered(ChannelInputShutdownEvent.INSTANCE);
        assertThat(reason(result)).isEqualTo(ProxyConnectException.CLOSED);
        assertThat(clientInPipeline()).isFalse();
    }

    @Test
    void theEndOfTheProxysDirectionAfterAGrantIsNoFailure() {
        Future<Void> result = ask();
        channel.writeInbound(ascii("HTTP/1.1 200 OK\r\n\r\n"));
        channel.pipeline().fireUserEventTriggered(ChannelInputShutdownEvent.INSTANCE);
        channel.close();
        assertThat(result.isSuccess()).isTrue();
    }

    @Test
    void aRequestThatCannotBeWrittenFailsAsProxyClosed() {
        channel = new EmbeddedChannel();
        channel.pipeline().addLast("broken", new ChannelOutboundHandlerAdapter() {
            @Override
            public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
                ((ReferenceCounted) msg).release();
                promise.setFailure(new java.io.IOException("connection reset"));
            }
        });
        channel.pipeline().addLast("splice", new Behind());
        Future<Void> result = HttpConnectClient.ask(channel.pipeline(), "splice", TARGET, TIMEOUT);
        assertThat(reason(result)).isEqualTo(ProxyConnectException.CLOSED);
        assertThat(result.cause().getMessage()).contains("could not be sent");
        assertThat(clientInPipeline()).isFalse();
    }

    @Test
    void aListenerOfTheGrantPutsInPlaceWhatReadsTheBytesThatCameWithIt() {
        Future<Void> result = ask();
        Behind next = new Behind();
        result.addListener(granted -> channel.pipeline().addBefore("splice", "next-layer", next));
        channel.writeInbound(ascii("HTTP/1.1 200 OK\r\nVia: proxy\r\n\r\n\u0016\u0003\u0003server first"));
        assertThat(next.read.toString())
                .as("the handler added on the grant gets the bytes of the same read")
                .isEqualTo("\u0016\u0003\u0003server first");
        assertThat(behind.read.toString()).isEmpty();
    }

    @ParameterizedTest(name = "{0} bytes of answer")
    @ValueSource(ints = {HttpConnectClient.MAX_ANSWER - 1, HttpConnectClient.MAX_ANSWER})
    void anAnswerUpToTheLimitIsRead(int size) {
        Future<Void> result = ask();
        String start = "HTTP/1.1 200 OK\r\nX-Pad: ";
        String end = "\r\n\r\n";
        String answer = start + "p".repeat(size - start.length() - end.length()) + end;
        assertThat(answer).hasSize(size);
        // In pieces of 1,000 bytes, the first data in the read that completes it.
        for (int at = 0; at < answer.length(); at += 1000) {
            String piece = answer.substring(at, Math.min(answer.length(), at + 1000));
            channel.writeInbound(ascii(at + 1000 >= answer.length() ? piece + "DATA" : piece));
        }
        assertThat(result.isSuccess()).as("an answer of " + size + " bytes").isTrue();
        assertThat(behind.read.toString()).isEqualTo("DATA");
    }

    @Test
    void anAnswerPastTheLimitIsABadAnswer() {
        Future<Void> result = ask();
        String start = "HTTP/1.1 200 OK\r\nX-Pad: ";
        String end = "\r\n\r\n";
        // MAX_ANSWER + 1 bytes are taken to look for the end (one byte of slack); an end past that is too far.
        int size = HttpConnectClient.MAX_ANSWER + 2;
        channel.writeInbound(ascii(start + "p".repeat(size - start.length() - end.length()) + end));
        assertThat(reason(result)).isEqualTo(ProxyConnectException.BAD_ANSWER);
    }

    @Test
    void aRefusalIsReportedInPrintableWordsOfBoundedLength() {
        Future<Void> result = ask();
        channel.writeInbound(ascii("HTTP/1.1 403 \u001b[31mno\u0007 " + "x".repeat(500) + "\r\n\r\n"));
        assertThat(reason(result)).isEqualTo(ProxyConnectException.REFUSED);
        String message = result.cause().getMessage();
        assertThat(message)
                .contains("HTTP/1.1 403 ?[31mno? ")
                .doesNotContain("\u001b")
                .doesNotContain("\u0007");
        assertThat(message.length()).isLessThan(250);
    }

    @Test
    void somethingOtherThanBytesIsReleasedAndIgnored() {
        Future<Void> result = ask();
        ByteBuf stray = Unpooled.buffer(4).writeInt(7);
        channel.writeInbound(new io.netty.buffer.DefaultByteBufHolder(stray));
        assertThat(stray.refCnt()).isZero();
        assertThat(result.isDone()).isFalse();
        channel.writeInbound(ascii("HTTP/1.1 200 OK\r\n\r\n"));
        assertThat(result.isSuccess()).isTrue();
    }
}
