package dev.onionrelay.relay;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.onionrelay.support.Layers;
import dev.onionrelay.support.Onions;
import dev.onionrelay.support.Scenario;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.security.KeyStore;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.SSLSocketFactory;
import javax.net.ssl.TrustManagerFactory;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The end of a tunnel on a relay whose client ends its direction at the minimum depth (a close_notify on the inner of
 * two layers) and closes the layer outside it a moment later, as a relay in front does once its own close_notify for
 * the inner layer is out. Meanwhile the target has answered, and most of its answer is still in the relay's socket,
 * because the client reads slowly. Both directions have ended, but the relay must not close yet: a socket closed
 * while the peer still sends (here the outer close_notify, then FIN) is reset by the kernel, and the reset throws away
 * the part of the answer not yet delivered. The relay reads and drops the rest until the client's FIN, then closes.
 */
@Scenario
class LingeringCloseTest {

    /**
     * Far more than the client's receive buffer, yet within what the relay's socket takes once the client's window is
     * full (Linux grows a loopback send buffer to megabytes): the relay writes all of it, ends its side, and most of
     * the answer is still in its socket when it would close.
     */
    static final int ANSWER = 1 << 20;

    Onions onions;
    AnswerServer target;

    @BeforeEach
    void setUp() throws Exception {
        onions = new Onions();
        onions.pki.ca("ca");
        onions.pki.leaf("hop", "ca");
        target = new AnswerServer(ANSWER);
    }

    @AfterEach
    void tearDown() throws Exception {
        onions.close();
        target.close();
    }

    @Test
    void aClientThatClosesItsOuterLayerAfterTheAnswerIsSentStillGetsTheWholeAnswer() throws Exception {
        Relay exit = onions.relay(
                "exit",
                target.port(),
                List.of(Layers.server("outer", "hop"), Layers.server("inner", "hop")),
                List.of(),
                Onions.options(2, 0));
        SSLSocketFactory tls = trusting().getSocketFactory();

        try (Socket tcp = new Socket()) {
            // A small window: the answer piles up in the relay's socket instead of ours.
            tcp.setReceiveBufferSize(32 * 1024);
            tcp.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), Onions.port(exit)));
            tcp.setSoTimeout(30_000);
            SSLSocket outer = layer(tls, tcp);
            SSLSocket inner = layer(tls, outer);

            inner.getOutputStream().write("the question".getBytes(StandardCharsets.US_ASCII));
            inner.getOutputStream().flush();
            // close_notify at the minimum depth: the relay ends the direction towards the target, which answers.
            inner.shutdownOutput();
            assertThat(target.question()).isEqualTo("the question");
            await().atMost(Duration.ofSeconds(10)).until(() -> exit.stats().bytesOut() == ANSWER);
            // Time for the relay to end its side too: close_notify on each layer, then FIN.
            Thread.sleep(300);

            // Now the layer outside, then TCP, as a relay in front would.
            outer.shutdownOutput();
            tcp.shutdownOutput();

            long received = 0;
            InputStream in = inner.getInputStream();
            byte[] buffer = new byte[64 * 1024];
            int n;
            while ((n = in.read(buffer)) > 0) {
                received += n;
            }
            assertThat(received).as("answer bytes received").isEqualTo(ANSWER);
        }
        await().atMost(Duration.ofSeconds(2)).until(() -> exit.tunnels().isEmpty());
    }

    /** A client TLS layer over {@code below}, which it leaves open when it closes (the stack closes each layer). */
    private static SSLSocket layer(SSLSocketFactory tls, Socket below) throws IOException {
        SSLSocket socket = (SSLSocket) tls.createSocket(below, "localhost", below.getPort(), false);
        socket.setEnabledProtocols(new String[] {"TLSv1.3"});
        socket.startHandshake();
        return socket;
    }

    private SSLContext trusting() throws Exception {
        KeyStore trust = KeyStore.getInstance(KeyStore.getDefaultType());
        trust.load(null, null);
        trust.setCertificateEntry("ca", onions.pki.trustAnchors("ca").get(0));
        TrustManagerFactory factory = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        factory.init(trust);
        SSLContext context = SSLContext.getInstance("TLS");
        context.init(null, factory.getTrustManagers(), null);
        return context;
    }

    /** A target that reads a question until the end of its client's direction, then sends its answer and closes. */
    private static final class AnswerServer implements AutoCloseable {

        private final ServerSocket server;
        private final CompletableFuture<String> question = new CompletableFuture<>();

        AnswerServer(int answerBytes) throws IOException {
            server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
            Thread thread = new Thread(() -> serve(answerBytes), "answer-server");
            thread.setDaemon(true);
            thread.start();
        }

        int port() {
            return server.getLocalPort();
        }

        String question() throws Exception {
            return question.get(20, TimeUnit.SECONDS);
        }

        private void serve(int answerBytes) {
            try (Socket socket = server.accept()) {
                question.complete(new String(socket.getInputStream().readAllBytes(), StandardCharsets.US_ASCII));
                OutputStream out = socket.getOutputStream();
                byte[] chunk = new byte[64 * 1024];
                for (int sent = 0; sent < answerBytes; sent += chunk.length) {
                    out.write(chunk, 0, Math.min(chunk.length, answerBytes - sent));
                }
            } catch (IOException e) {
                question.completeExceptionally(e);
            }
        }

        @Override
        public void close() throws IOException {
            server.close();
        }
    }
}
