package dev.onionrelay.layer;

import static org.assertj.core.api.Assertions.assertThat;

import dev.onionrelay.credential.Credential;
import dev.onionrelay.layer.EngineLoopback.Engine;
import dev.onionrelay.support.TestPki;
import io.netty.buffer.ByteBufAllocator;
import io.netty.handler.ssl.SslContext;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.stream.Stream;
import javax.net.ssl.SSLEngineResult;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Which TLS engines, as their libraries ship them, keep half-close: after a peer's close_notify ends its direction,
 * can the engine still send the rest of the answer, and can an engine that sent its own close_notify still read the
 * answer? An end of direction at the minimum depth closes every layer below it innermost first while the answer travels
 * back through all of them, so a layer's engine must do both. The peer is always the JDK engine; each engine is checked
 * on the side that matters. Only the JDK engine under TLS 1.3 sends after a received close_notify: Netty's OpenSSL
 * engine and Conscrypt (both BoringSSL) close their sending side with it, and under TLS 1.2 every engine answers a
 * close_notify at once. Every engine still reads after sending its own. The tables record what each engine does
 * unchanged and fail when one changes; {@link OpenSslHalfCloseTest} shows that BoringSSL itself keeps sending once
 * Netty's answer is switched off, which is how the service runs it.
 */
class EngineHalfCloseTest {

    private static final byte[] ANSWER = "the rest of the answer".getBytes(StandardCharsets.US_ASCII);

    private static final TestPki pki = new TestPki();
    private static Credential ca;
    private static Credential leaf;

    @BeforeAll
    static void credentials() {
        ca = pki.ca("ca");
        leaf = pki.leaf("server", "ca");
    }

    static Stream<Arguments> engines() {
        return Stream.of(
                Arguments.of(Engine.JDK, "TLSv1.3", true),
                Arguments.of(Engine.JDK, "TLSv1.2", false),
                Arguments.of(Engine.NETTY_OPENSSL, "TLSv1.3", false),
                Arguments.of(Engine.NETTY_OPENSSL, "TLSv1.2", false),
                Arguments.of(Engine.CONSCRYPT, "TLSv1.3", false),
                Arguments.of(Engine.CONSCRYPT, "TLSv1.2", false));
    }

    @ParameterizedTest(name = "{0} {1}: sends after a received close_notify = {2}")
    @MethodSource("engines")
    void engineSendsTheRestOfTheAnswerAfterThePeersCloseNotify(Engine engine, String protocol, boolean keeps)
            throws Exception {
        SslContext clientContext = EngineLoopback.clientContext(Engine.JDK, ca.trustAnchors(), protocol);
        SslContext serverContext = EngineLoopback.serverContext(engine, leaf.privateKey(), leaf.chain(), protocol);
        try (EngineLoopback loop = new EngineLoopback(
                        EngineLoopback.clientEngine(clientContext, false),
                        serverContext.newEngine(ByteBufAllocator.DEFAULT))
                .handshake()) {
            assertThat(loop.server.getSession().getProtocol()).isEqualTo(protocol);

            loop.closeOutbound(loop.client);
            SSLEngineResult received = loop.read(loop.server);
            assertThat(received.getStatus()).as("close_notify read").isEqualTo(SSLEngineResult.Status.CLOSED);
            assertThat(loop.server.isInboundDone()).isTrue();

            SSLEngineResult sent = loop.write(loop.server, ANSWER);
            loop.read(loop.client);
            byte[] arrived = loop.takeRead(loop.client);
            System.out.printf(
                    "HALFCLOSE send %s %s: wrap %s consumed %d, outboundDone %s, client got %d bytes%n",
                    engine,
                    protocol,
                    sent.getStatus(),
                    sent.bytesConsumed(),
                    loop.server.isOutboundDone(),
                    arrived.length);

            assertThat(sent.bytesConsumed() == ANSWER.length && Arrays.equals(arrived, ANSWER))
                    .as("%s under %s delivers data written after the peer's close_notify", engine, protocol)
                    .isEqualTo(keeps);
        }
    }

    /** TLS 1.3 only: under TLS 1.2 a close_notify must be answered at once, so no peer could send an answer. */
    static Stream<Arguments> readersUnderTls13() {
        return Stream.of(
                Arguments.of(Engine.JDK, "TLSv1.3", true),
                Arguments.of(Engine.NETTY_OPENSSL, "TLSv1.3", true),
                Arguments.of(Engine.CONSCRYPT, "TLSv1.3", true));
    }

    @ParameterizedTest(name = "{0} {1}: reads after its own close_notify = {2}")
    @MethodSource("readersUnderTls13")
    void engineReadsTheAnswerAfterSendingItsCloseNotify(Engine engine, String protocol, boolean keeps)
            throws Exception {
        SslContext clientContext = EngineLoopback.clientContext(engine, ca.trustAnchors(), protocol);
        SslContext serverContext = EngineLoopback.serverContext(Engine.JDK, leaf.privateKey(), leaf.chain(), protocol);
        try (EngineLoopback loop = new EngineLoopback(
                        EngineLoopback.clientEngine(clientContext, false),
                        serverContext.newEngine(ByteBufAllocator.DEFAULT))
                .handshake()) {
            loop.closeOutbound(loop.client);
            loop.read(loop.server);
            SSLEngineResult sent = loop.write(loop.server, ANSWER);
            assertThat(sent.bytesConsumed())
                    .as("the JDK peer writes after close_notify")
                    .isEqualTo(ANSWER.length);

            SSLEngineResult read = loop.read(loop.client);
            byte[] arrived = loop.takeRead(loop.client);
            System.out.printf(
                    "HALFCLOSE read %s %s: unwrap %s, client got %d bytes%n",
                    engine, protocol, read == null ? "-" : read.getStatus(), arrived.length);
            assertThat(Arrays.equals(arrived, ANSWER))
                    .as("%s under %s reads data after its own close_notify", engine, protocol)
                    .isEqualTo(keeps);
        }
    }
}
