package dev.onionrelay.layer;

import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import java.nio.channels.ClosedChannelException;

/**
 * Sits right behind one layer's handler: sees that layer's plaintext and the exceptions it raises first. It tells the
 * stack of a close_notify that the handler reported too early (see {@link LayerStack#onCloseNotify}) and tells the
 * handshake accounting of exceptions and of the end of TCP input; it is its own class because it serves both.
 */
final class LayerGuard extends ChannelInboundHandlerAdapter {

    private final Layer layer;
    private final LayerStack stack;
    private final HandshakeAccounting handshakes;

    LayerGuard(Layer layer, LayerStack stack, HandshakeAccounting handshakes) {
        this.layer = layer;
        this.stack = stack;
        this.handshakes = handshakes;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        layer.receivedData = true;
        ctx.fireChannelRead(msg);
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        if (layer.awaitingPeerClose && !layer.removed && layer.peerClosed()) {
            // The peer's close_notify came in this read. The engine decodes nothing after it, so the bytes that
            // followed are still in the handler, which hands them on when it is removed.
            layer.awaitingPeerClose = false;
            stack.onCloseNotify(layer);
        }
        ctx.fireChannelReadComplete();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        handshakes.exceptionBehind(layer, cause);
        ctx.fireExceptionCaught(cause);
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object event) {
        if (event instanceof ChannelInputShutdownEvent) {
            // TCP FIN: with half-closure allowed no channelInactive fails the handshake, the tunnel just ends.
            handshakes.connectionLost(new ClosedChannelException());
        }
        ctx.fireUserEventTriggered(event);
    }
}
