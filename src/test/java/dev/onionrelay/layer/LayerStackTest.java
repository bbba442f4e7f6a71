package dev.onionrelay.layer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.onionrelay.support.Layers;
import dev.onionrelay.support.LeakCheck;
import dev.onionrelay.support.TestPki;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.ssl.SslHandler;
import io.netty.util.concurrent.Future;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The stack semantics on two {@link EmbeddedChannel}s joined by hand (no socket, no thread), with the JDK TLS engine:
 * {@code pushAll} nests two layers and the data crosses both; a push on the live connection adds an innermost layer;
 * a local pop exchanges close_notify, removes the layer on both sides (LOCAL here, PEER there) and keeps the
 * connection, and what was written around the pop arrives once and in order through the layer outside; the minimum
 * depth refuses a pop and turns the peer's close_notify into the end of its direction; a close_notify under an open
 * inner layer is a protocol violation.
 */
@ExtendWith(LeakCheck.class)
class LayerStackTest {

    private static TestPki pki;
    private static TlsContexts contexts;

    @BeforeAll
    static void credentials() {
        pki = new TestPki();
        pki.ca("ca");
        pki.leaf("hop", "ca");
        contexts = new TlsContexts(pki, ProviderChoice.JDK);
    }

    private static PreparedLayer server(String name) throws LayerConfigurationException {
        return contexts.prepare(Layers.server(name, "hop"));
    }

    private static PreparedLayer client(String name) throws LayerConfigurationException {
        return contexts.prepare(Layers.client(name, "ca", "localhost"));
    }

    /** The plaintext that reaches the anchor, and what the stack told its owner. */
    static final class End extends ChannelInboundHandlerAdapter implements StackListener {
        final ByteArrayOutputStream read = new ByteArrayOutputStream();
        final List<String> events = new CopyOnWriteArrayList<>();

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ByteBuf bytes = (ByteBuf) msg;
            try {
                read.writeBytes(io.netty.buffer.ByteBufUtil.getBytes(bytes));
            } finally {
                bytes.release();
            }
        }

        String text() {
            return read.toString(StandardCharsets.ISO_8859_1);
        }

        @Override
        public void handshakeSucceeded(LayerStack stack, Layer layer, Duration took) {
            events.add("established " + layer.name());
        }

        @Override
        public void handshakeFailed(LayerStack stack, Layer layer, String reason, Throwable cause) {
            events.add("failed " + layer.name() + " " + reason);
        }

        @Override
        public void pushed(LayerStack stack, Layer layer, Initiator initiator) {
            events.add("pushed " + layer.name() + " " + initiator);
        }

        @Override
        public void popped(LayerStack stack, Layer layer, Initiator initiator) {
            events.add("popped " + layer.name() + " " + initiator);
        }

        @Override
        public void inboundEnded(LayerStack stack) {
            events.add("inbound ended");
        }

        @Override
        public void protocolViolation(LayerStack stack, String what) {
            events.add("violation: " + what);
        }
    }

    /** One end: a channel whose anchor is {@link End}, and its stack. */
    static final class Peer {
        final EmbeddedChannel channel = new EmbeddedChannel();
        final End end = new End();
        final LayerStack stack;

        Peer(Side side, int minDepth) {
            channel.pipeline().addLast("anchor", end);
            stack = new LayerStack(channel, side, "anchor", "localhost", 443, minDepth, end);
        }

        void write(String text) {
            channel.writeAndFlush(Unpooled.copiedBuffer(text, StandardCharsets.ISO_8859_1));
        }

        /** Whatever this side's pipeline wrote to the wire since the last call. */
        byte[] takeWire() {
            channel.runPendingTasks();
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            Object written;
            while ((written = channel.readOutbound()) != null) {
                ByteBuf bytes = (ByteBuf) written;
                try {
                    out.writeBytes(io.netty.buffer.ByteBufUtil.getBytes(bytes));
                } finally {
                    bytes.release();
                }
            }
            return out.toByteArray();
        }

        List<SslHandler> handlers() {
            return channel.pipeline().names().stream()
                    .map(name -> channel.pipeline().get(name))
                    .filter(SslHandler.class::isInstance)
                    .map(SslHandler.class::cast)
                    .toList();
        }
    }

    private Peer client;
    private Peer server;

    private void sides(int clientMinDepth, int serverMinDepth) {
        client = new Peer(Side.EGRESS, clientMinDepth);
        server = new Peer(Side.INGRESS, serverMinDepth);
    }

    @AfterEach
    void finish() {
        if (client != null) {
            client.channel.finishAndReleaseAll();
            server.channel.finishAndReleaseAll();
        }
    }

    /** Moves bytes both ways until neither side has anything more to say. */
    private void pump() {
        for (int round = 0; round < 100; round++) {
            byte[] toServer = client.takeWire();
            byte[] toClient = server.takeWire();
            if (toServer.length == 0 && toClient.length == 0) {
                return;
            }
            if (toServer.length > 0 && server.channel.isOpen()) {
                server.channel.writeInbound(Unpooled.wrappedBuffer(toServer));
            }
            if (toClient.length > 0 && client.channel.isOpen()) {
                client.channel.writeInbound(Unpooled.wrappedBuffer(toClient));
            }
        }
        throw new AssertionError("the two sides never went quiet");
    }

    /** Two layers on each side, established. */
    private void twoLayers(int clientMinDepth, int serverMinDepth) throws Exception {
        sides(clientMinDepth, serverMinDepth);
        Future<Void> serverPushed = server.stack.pushAll(List.of(server("outer"), server("inner")));
        Future<Void> clientPushed = client.stack.pushAll(List.of(client("outer"), client("inner")));
        pump();
        assertThat(clientPushed.isSuccess())
                .as("client: %s", clientPushed.cause())
                .isTrue();
        assertThat(serverPushed.isSuccess())
                .as("server: %s", serverPushed.cause())
                .isTrue();
    }

    @Test
    void pushAllNestsTheLayersAndDataCrossesBoth() throws Exception {
        twoLayers(0, 0);
        assertThat(client.stack.depth()).isEqualTo(2);
        assertThat(server.stack.depth()).isEqualTo(2);
        assertThat(client.stack.established()).isTrue();
        assertThat(server.stack.established()).isTrue();
        assertThat(client.stack.status()).extracting(LayerStatus::name).containsExactly("outer", "inner");
        assertThat(client.end.events).containsExactly("established outer", "established inner");
        assertThat(server.end.events).containsExactly("established outer", "established inner");

        client.write("ping through two layers");
        byte[] wire = client.takeWire();
        assertThat(new String(wire, StandardCharsets.ISO_8859_1)).doesNotContain("ping");
        assertThat(wire[0]).as("an application_data record of the outer layer").isEqualTo((byte) 23);
        server.channel.writeInbound(Unpooled.wrappedBuffer(wire));
        assertThat(server.end.text()).isEqualTo("ping through two layers");
        server.write("pong");
        pump();
        assertThat(client.end.text()).isEqualTo("pong");
    }

    @Test
    void aPushOnTheLiveConnectionAddsAnInnermostLayer() throws Exception {
        sides(0, 0);
        server.stack.pushAll(List.of(server("outer")));
        client.stack.pushAll(List.of(client("outer")));
        pump();
        client.write("before");
        pump();
        server.stack.push(server("added"));
        client.stack.push(client("added"));
        pump();
        assertThat(client.stack.depth()).isEqualTo(2);
        assertThat(server.stack.depth()).isEqualTo(2);
        assertThat(client.end.events).contains("pushed added LOCAL", "established added");
        client.write(" after");
        pump();
        assertThat(server.end.text()).isEqualTo("before after");
    }

    @Test
    void aLocalPopRemovesTheInnermostLayerOnBothSidesAndKeepsTheConnection() throws Exception {
        twoLayers(0, 0);
        client.stack.popLocal();
        pump();
        assertThat(client.stack.depth()).isEqualTo(1);
        assertThat(server.stack.depth()).isEqualTo(1);
        assertThat(client.end.events).endsWith("popped inner LOCAL");
        assertThat(server.end.events).endsWith("popped inner PEER");
        assertThat(client.handlers()).hasSize(1);
        assertThat(server.handlers()).hasSize(1);
        assertThat(client.channel.isOpen()).isTrue();
        assertThat(server.channel.isOpen()).isTrue();
        client.write("through the outer layer");
        server.write("and back");
        pump();
        assertThat(server.end.text()).isEqualTo("through the outer layer");
        assertThat(client.end.text()).isEqualTo("and back");
    }

    @Test
    void writesAroundAPopArriveOnceAndInOrder() throws Exception {
        twoLayers(0, 0);
        client.write("1 inside;");
        client.stack.popLocal();
        client.write("2 held during the pop;");
        client.write("3 held too;");
        pump();
        client.write("4 after.");
        pump();
        assertThat(server.end.text()).isEqualTo("1 inside;2 held during the pop;3 held too;4 after.");
        assertThat(server.stack.depth()).isEqualTo(1);
    }

    @Test
    void aPopTwiceBeforeTheAnswerIsOnePop() throws Exception {
        twoLayers(0, 0);
        client.stack.popLocal();
        client.stack.popLocal();
        pump();
        assertThat(client.stack.depth()).isEqualTo(1);
        assertThat(client.end.events.stream().filter(e -> e.startsWith("popped")))
                .hasSize(1);
    }

    @Test
    void aPopAtTheMinimumDepthIsRefused() throws Exception {
        twoLayers(2, 0);
        assertThatThrownBy(client.stack::popLocal).isInstanceOf(BelowMinimumDepthException.class);
        pump();
        assertThat(client.stack.depth()).isEqualTo(2);
        assertThat(server.stack.depth()).isEqualTo(2);
        client.write("still nested");
        pump();
        assertThat(server.end.text()).isEqualTo("still nested");
    }

    @Test
    void thePeersCloseNotifyAtTheMinimumDepthEndsItsDirectionWithoutAPop() throws Exception {
        twoLayers(0, 2);
        client.write("last words");
        client.stack.closeOutbound();
        pump();
        assertThat(server.end.text()).isEqualTo("last words");
        assertThat(server.stack.inboundEnded()).isTrue();
        assertThat(server.end.events).contains("inbound ended").noneMatch(e -> e.startsWith("popped"));
        assertThat(server.stack.depth()).as("no downgrade below the minimum").isEqualTo(2);
    }

    @Test
    void aCloseNotifyOnALayerThatIsNotInnermostIsAProtocolViolation() throws Exception {
        twoLayers(0, 0);
        client.handlers().get(0).closeOutbound();
        pump();
        assertThat(server.end.events).anyMatch(e -> e.startsWith("violation: close_notify on ingress layer 'outer'"));
        assertThat(server.stack.depth()).isEqualTo(2);
    }

    /**
     * Three layers, and the peer closes the outer two in one read while the innermost stays open: each close_notify
     * lands under an open layer; the tunnel closes for one violation, reported once.
     */
    @Test
    void closeNotifiesOnEveryLayerUnderAnOpenOneAreOneViolation() throws Exception {
        twoLayers(0, 0);
        Layer serverThird = server.stack.push(server("third"));
        Layer clientThird = client.stack.push(client("third"));
        pump();
        assertThat(List.of(serverThird.state(), clientThird.state())).containsOnly(LayerState.ESTABLISHED);
        client.handlers().get(1).closeOutbound();
        client.handlers().get(0).closeOutbound();
        byte[] bothCloseNotifies = client.takeWire();
        server.channel.writeInbound(Unpooled.wrappedBuffer(bothCloseNotifies));
        assertThat(server.end.events.stream().filter(e -> e.startsWith("violation:")))
                .containsExactly("violation: close_notify on ingress layer 'inner' which is not innermost");
    }

    /**
     * The README's live-layers mistake: a layer pushed on one end only, and the peer then closes its two layers. The
     * close_notifies land under a layer still in its handshake: the peer gave that handshake up (the push fails), which
     * is no protocol violation; an {@code openssl s_client} that completes the outer of two layers and leaves is the
     * same case.
     */
    @Test
    void aCloseNotifyUnderALayerStillInItsHandshakeFailsThatHandshakeAndIsNoViolation() throws Exception {
        twoLayers(0, 0);
        Layer pushed = server.stack.push(server("extra"));
        pump();
        client.handlers().get(1).closeOutbound();
        client.handlers().get(0).closeOutbound();
        server.channel.writeInbound(Unpooled.wrappedBuffer(client.takeWire()));
        server.channel.runPendingTasks();
        assertThat(server.end.events).noneMatch(e -> e.startsWith("violation:"));
        assertThat(pushed.state()).as("the push the peer never answered").isEqualTo(LayerState.FAILED);
    }
}
