package dev.onionrelay.layer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.onionrelay.credential.Credential;
import dev.onionrelay.layer.EngineLoopback.Engine;
import dev.onionrelay.support.TestPki;
import io.netty.buffer.ByteBufAllocator;
import io.netty.handler.ssl.SslContext;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.Random;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLEngineResult;
import javax.net.ssl.SSLException;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Netty's OpenSSL engine with its answer to close_notify switched off and each direction's close_notify kept outside
 * it ({@link OpenSslHalfClose}), as {@link HalfCloseSslHandler} drives it: the receiver of a close_notify still sends
 * the whole answer, under TLS 1.3 and 1.2; the sender of one still reads it; the engine never looks closed to Netty
 * (which would slow it down to a record per flush); and nothing but a close_notify is taken for one. {@link
 * EngineHalfCloseTest} shows that without this the engine stops sending.
 */
class OpenSslHalfCloseTest {

    private static final TestPki pki = new TestPki();
    private static Credential ca;
    private static Credential leaf;

    @BeforeAll
    static void credentials() {
        assertThat(OpenSslHalfClose.available())
                .as("OpenSSL half-close: %s", OpenSslHalfClose.unavailabilityCause())
                .isTrue();
        ca = pki.ca("ca");
        leaf = pki.leaf("server", "ca");
    }

    /** Our close_notify from {@code from}, queued in BoringSSL and sent by the next wrap. */
    private static void sendCloseNotify(EngineLoopback loop, SSLEngine from) throws SSLException {
        if (from instanceof io.netty.handler.ssl.ReferenceCountedOpenSslEngine) {
            assertThat(OpenSslHalfClose.sendCloseNotify(from)).isTrue();
            assertThat(loop.write(from, new byte[0]).bytesProduced())
                    .as("the close_notify")
                    .isPositive();
        } else {
            loop.closeOutbound(from);
        }
    }

    private static SSLEngine halfClosing(SSLEngine engine) {
        OpenSslHalfClose.keepSendingAfterCloseNotify(engine);
        return engine;
    }

    private static EngineLoopback loop(Engine clientEngine, Engine serverEngine, String protocol) throws SSLException {
        SslContext clientContext = EngineLoopback.clientContext(clientEngine, ca.trustAnchors(), protocol);
        SslContext serverContext =
                EngineLoopback.serverContext(serverEngine, leaf.privateKey(), leaf.chain(), protocol);
        // As the service makes them: engines from the contexts' handlers, which read every record they are given
        // (the contexts' newEngine makes engines that check each record's header first, as the JDK's do).
        SSLEngine client = clientEngine == Engine.NETTY_OPENSSL
                ? clientContext
                        .newHandler(ByteBufAllocator.DEFAULT, "localhost", 4433)
                        .engine()
                : EngineLoopback.clientEngine(clientContext, false);
        SSLEngine server = serverContext.newHandler(ByteBufAllocator.DEFAULT).engine();
        return new EngineLoopback(
                clientEngine == Engine.NETTY_OPENSSL ? halfClosing(client) : client,
                serverEngine == Engine.NETTY_OPENSSL ? halfClosing(server) : server);
    }

    private static byte[] random(int size, long seed) {
        byte[] bytes = new byte[size];
        new Random(seed).nextBytes(bytes);
        return bytes;
    }

    /** Writes {@code data} record by record from {@code from}, each record read by the peer right away. */
    private static byte[] send(EngineLoopback loop, SSLEngine from, byte[] data) throws SSLException {
        SSLEngine to = from == loop.client ? loop.server : loop.client;
        ByteBuffer arrived = ByteBuffer.allocate(data.length);
        for (int offset = 0; offset < data.length; ) {
            int chunk = Math.min(16 * 1024, data.length - offset);
            SSLEngineResult sent = loop.write(from, Arrays.copyOfRange(data, offset, offset + chunk));
            assertThat(sent.getStatus()).as("wrap at %d", offset).isEqualTo(SSLEngineResult.Status.OK);
            offset += sent.bytesConsumed();
            loop.read(to);
            arrived.put(loop.takeRead(to));
        }
        return Arrays.copyOf(arrived.array(), arrived.position());
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"TLSv1.3", "TLSv1.2"})
    void theReceiverOfCloseNotifySendsTheWholeAnswer(String protocol) throws Exception {
        try (EngineLoopback loop =
                loop(Engine.NETTY_OPENSSL, Engine.NETTY_OPENSSL, protocol).handshake()) {
            assertThat(loop.server.getSession().getProtocol()).isEqualTo(protocol);
            byte[] request = random(40_000, 1);
            assertThat(send(loop, loop.client, request)).isEqualTo(request);

            sendCloseNotify(loop, loop.client);
            SSLEngineResult closeRead = loop.read(loop.server);
            assertThat(closeRead.bytesConsumed())
                    .as("the close_notify record is consumed")
                    .isPositive();
            assertThat(OpenSslHalfClose.closeNotifyReceived(loop.server)).isTrue();
            assertThat(loop.server.isInboundDone() || loop.server.isOutboundDone())
                    .as("never closed to Netty")
                    .isFalse();
            assertThat(loop.server.getHandshakeStatus())
                    .as("still a running connection to Netty's handler")
                    .isEqualTo(SSLEngineResult.HandshakeStatus.NOT_HANDSHAKING);

            byte[] answer = random(1 << 20, 2);
            assertThat(send(loop, loop.server, answer))
                    .as("the answer after close_notify")
                    .isEqualTo(answer);

            sendCloseNotify(loop, loop.server);
            loop.read(loop.client);
            assertThat(OpenSslHalfClose.closeNotifyReceived(loop.client)).isTrue();
            assertThatThrownBy(() -> loop.write(loop.server, new byte[] {1}))
                    .as("nothing is encrypted after our own close_notify")
                    .isInstanceOf(SSLException.class);
        }
    }

    @Test
    void aJdkPeerEndsItsDirectionUnderTls13AndStillGetsTheAnswer() throws Exception {
        try (EngineLoopback loop =
                loop(Engine.JDK, Engine.NETTY_OPENSSL, "TLSv1.3").handshake()) {
            loop.closeOutbound(loop.client);
            loop.read(loop.server);
            assertThat(OpenSslHalfClose.closeNotifyReceived(loop.server)).isTrue();
            byte[] answer = random(200_000, 3);
            assertThat(send(loop, loop.server, answer)).isEqualTo(answer);
        }
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"TLSv1.3", "TLSv1.2"})
    void dataAheadOfTheCloseNotifyIsReadAndBytesAfterItAreLeft(String protocol) throws Exception {
        try (EngineLoopback loop =
                loop(Engine.NETTY_OPENSSL, Engine.NETTY_OPENSSL, protocol).handshake()) {
            byte[] last = random(5_000, 4);
            loop.write(loop.client, last);
            sendCloseNotify(loop, loop.client);
            byte[] after = "plaintext of the layer outside".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
            loop.inject(loop.server, after);

            loop.read(loop.server);
            assertThat(loop.takeRead(loop.server)).isEqualTo(last);
            assertThat(OpenSslHalfClose.closeNotifyReceived(loop.server)).isTrue();
            assertThat(loop.pending(loop.server))
                    .as("what followed the close_notify")
                    .isEqualTo(after);
        }
    }

    @Test
    void aCloseNotifyBeforeTheEndOfTheHandshakeIsLeftToNetty() throws Exception {
        try (EngineLoopback loop = loop(Engine.NETTY_OPENSSL, Engine.NETTY_OPENSSL, "TLSv1.3")) {
            assertThat(OpenSslHalfClose.sendCloseNotify(loop.client)).isFalse();
        }
    }

    @Test
    void aCorruptRecordIsAFailureNotACloseNotify() throws Exception {
        try (EngineLoopback loop =
                loop(Engine.NETTY_OPENSSL, Engine.NETTY_OPENSSL, "TLSv1.3").handshake()) {
            loop.write(loop.client, random(1_000, 5));
            loop.corruptLastByte(loop.server);
            assertThatThrownBy(() -> {
                        loop.read(loop.server);
                        // Netty may hold the failure back until the alert it produced is wrapped.
                        loop.write(loop.server, new byte[] {1});
                        loop.write(loop.server, new byte[] {1});
                    })
                    .isInstanceOf(SSLException.class);
            assertThat(OpenSslHalfClose.closeNotifyReceived(loop.server)).isFalse();
        }
    }

    @Test
    void otherEnginesAreNeverTakenForClosed() throws Exception {
        try (EngineLoopback loop = loop(Engine.JDK, Engine.JDK, "TLSv1.3").handshake()) {
            loop.closeOutbound(loop.client);
            loop.read(loop.server);
            assertThat(OpenSslHalfClose.closeNotifyReceived(loop.server)).isFalse();
            assertThatThrownBy(() -> OpenSslHalfClose.keepSendingAfterCloseNotify(loop.server))
                    .isInstanceOf(IllegalArgumentException.class);
        }
    }
}
