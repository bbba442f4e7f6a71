package dev.onionrelay.relay.upstream;

import static org.assertj.core.api.Assertions.assertThat;

import dev.onionrelay.relay.Endpoint;
import dev.onionrelay.support.LeakCheck;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.util.concurrent.Future;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The CONNECT exchange on its own: what is sent, which answers grant the tunnel, and that no byte after one is lost. */
@ExtendWith(LeakCheck.class)
class HttpConnectClientTest {

    /** Collects what reaches the handler behind the client (the next layer, or the splice). */
    private static final class Behind extends ChannelInboundHandlerAdapter {
        final StringBuilder read = new StringBuilder();

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ByteBuf bytes = (ByteBuf) msg;
            read.append(bytes.toString(StandardCharsets.ISO_8859_1));
            bytes.release();
        }
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(
            delimiter = '|',
            value = {
                "granted in one read, a banner right behind it|HTTP/1.1 200 Connection established\\r\\n\\r\\n220 hello||"
                        + "success|220 hello",
                "granted in pieces|HTTP/1.1 200 OK\\r\\nVia: 1.1 sq|uid\\r\\n\\r|success|",
                "granted by HTTP/1.0 and any 2xx|HTTP/1.0 204 No Content\\r\\n\\r\\n||success|",
                "refused|HTTP/1.1 403 Forbidden\\r\\nContent-Length: 0\\r\\n\\r\\n||proxy_refused|",
                "unreachable|HTTP/1.1 502 Bad Gateway\\r\\n\\r\\n||proxy_refused|",
                "not HTTP|SSH-2.0-OpenSSH\\r\\n\\r\\n||proxy_bad_answer|",
                "a status that is not a number|HTTP/1.1 2x0 OK\\r\\n\\r\\n||proxy_bad_answer|"
            })
    void answers(String what, String first, String second, String outcome, String passedOn) {
        EmbeddedChannel channel = new EmbeddedChannel();
        Behind behind = new Behind();
        channel.pipeline().addLast("splice", behind);
        Future<Void> result = HttpConnectClient.ask(
                channel.pipeline(), "splice", new Endpoint("10.0.0.1", 443), Duration.ofSeconds(5));
        ByteBuf request = channel.readOutbound();
        assertThat(request.toString(StandardCharsets.US_ASCII))
                .isEqualTo("CONNECT 10.0.0.1:443 HTTP/1.1\r\nHost: 10.0.0.1:443\r\n\r\n");
        request.release();
        channel.writeInbound(bytes(first));
        if (second != null) {
            assertThat(result.isDone()).as("no answer before the blank line").isFalse();
            channel.writeInbound(bytes(second + "\\n"));
        }
        assertThat(result.isDone()).as(what).isTrue();
        if (outcome.equals("success")) {
            assertThat(result.isSuccess()).isTrue();
            assertThat(behind.read.toString()).isEqualTo(passedOn == null ? "" : passedOn);
        } else {
            assertThat(((ProxyConnectException) result.cause()).reason()).isEqualTo(outcome);
            assertThat(behind.read.toString())
                    .as("nothing of a refusal is passed on")
                    .isEmpty();
        }
        assertThat(channel.pipeline().names())
                .as("the client leaves the pipeline")
                .doesNotContain("http-connect");
        assertThat(channel.pipeline().names().stream().noneMatch(name -> name.startsWith("http-connect")))
                .isTrue();
        channel.finishAndReleaseAll();
    }

    @ParameterizedTest(name = "an answer of {0} bytes without its end")
    @CsvSource({"8200", "100000"})
    void anOversizedAnswerIsRefused(int size) {
        EmbeddedChannel channel = new EmbeddedChannel();
        channel.pipeline().addLast("splice", new Behind());
        Future<Void> result =
                HttpConnectClient.ask(channel.pipeline(), "splice", new Endpoint("::1", 443), Duration.ofSeconds(5));
        ByteBuf request = channel.readOutbound();
        assertThat(request.toString(StandardCharsets.US_ASCII)).startsWith("CONNECT [::1]:443 HTTP/1.1\r\n");
        request.release();
        channel.writeInbound(Unpooled.wrappedBuffer(("HTTP/1.1 200 OK\r\nX: " + "a".repeat(size)).getBytes()));
        assertThat(((ProxyConnectException) result.cause()).reason()).isEqualTo(ProxyConnectException.BAD_ANSWER);
        channel.finishAndReleaseAll();
    }

    private static ByteBuf bytes(String escaped) {
        return Unpooled.copiedBuffer(escaped.replace("\\r", "\r").replace("\\n", "\n"), StandardCharsets.ISO_8859_1);
    }
}
