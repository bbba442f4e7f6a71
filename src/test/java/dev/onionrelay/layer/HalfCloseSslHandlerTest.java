package dev.onionrelay.layer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.netty.buffer.ByteBufAllocator;
import io.netty.channel.Channel;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslProvider;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.ImmediateEventExecutor;
import io.netty.util.concurrent.Promise;
import io.netty.util.concurrent.SucceededFuture;
import javax.net.ssl.SSLEngine;
import org.junit.jupiter.api.Test;

/**
 * {@link HalfCloseSslHandler} completes {@code SslHandler}'s close future itself when the peer's close_notify arrives,
 * which works only while Netty keeps that future as a promise. If an upgrade changed it, the handler must refuse to
 * exist (the layer then fails to start, counted and logged) rather than never report a close_notify, which would make
 * every pop hang until the idle timeout (issue 23, risk 6).
 */
class HalfCloseSslHandlerTest {

    @Test
    void aCloseFutureThatIsNotAPromiseIsRefusedLoudly() {
        assertThatThrownBy(() -> HalfCloseSslHandler.closePromise(
                        new SucceededFuture<Channel>(ImmediateEventExecutor.INSTANCE, null)))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("not a promise")
                .hasMessageContaining("onion.tls.provider=jdk");
    }

    @Test
    void thisNettyKeepsTheCloseFutureAsAPromiseSoTheHandlerStarts() throws Exception {
        SslContext context =
                SslContextBuilder.forClient().sslProvider(SslProvider.OPENSSL).build();
        SSLEngine engine = context.newEngine(ByteBufAllocator.DEFAULT);
        try {
            OpenSslHalfClose.keepSendingAfterCloseNotify(engine);
            HalfCloseSslHandler handler = new HalfCloseSslHandler(engine);
            assertThat(handler.sslCloseFuture()).isInstanceOf(Promise.class);
        } finally {
            ReferenceCountUtil.release(engine);
            ReferenceCountUtil.release(context);
        }
    }
}
