package dev.onionrelay.layer;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPromise;

/**
 * Sits right before one layer's handler while it handshakes: reads the alerts that pass in the clear each way, so that
 * a failure is named by what was said on the wire (see {@link AlertScanner}). Part of the handshake accounting
 * ({@link HandshakeAccounting}), which removes it when the handshake ends.
 */
final class AlertWatch extends ChannelDuplexHandler {

    private final Layer layer;

    AlertWatch(Layer layer) {
        this.layer = layer;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (msg instanceof ByteBuf bytes) {
            layer.alertsReceived.scan(bytes);
        }
        ctx.fireChannelRead(msg);
    }

    @Override
    public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
        if (msg instanceof ByteBuf bytes) {
            layer.alertsSent.scan(bytes);
        }
        ctx.write(msg, promise);
    }
}
