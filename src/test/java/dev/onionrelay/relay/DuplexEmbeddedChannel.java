package dev.onionrelay.relay;

import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelPromise;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.channel.socket.DuplexChannel;

/**
 * An {@link EmbeddedChannel} that is also a {@link DuplexChannel}, as a TCP socket is: it counts the shutdowns of its
 * output (our FIN) and lets a test say that its peer's FIN has been read ({@link #peerFinished}). For the tunnel's
 * pieces tested without sockets.
 */
final class DuplexEmbeddedChannel extends EmbeddedChannel implements DuplexChannel {

    private int outputShutdowns;
    private boolean inputShutdown;

    /** How many times our output was shut down (TCP FIN). */
    int outputShutdowns() {
        return outputShutdowns;
    }

    /** The peer's FIN has been read. */
    void peerFinished() {
        inputShutdown = true;
    }

    @Override
    public boolean isInputShutdown() {
        return inputShutdown;
    }

    @Override
    public ChannelFuture shutdownInput() {
        return shutdownInput(newPromise());
    }

    @Override
    public ChannelFuture shutdownInput(ChannelPromise promise) {
        inputShutdown = true;
        return promise.setSuccess();
    }

    @Override
    public boolean isOutputShutdown() {
        return outputShutdowns > 0;
    }

    @Override
    public ChannelFuture shutdownOutput() {
        return shutdownOutput(newPromise());
    }

    @Override
    public ChannelFuture shutdownOutput(ChannelPromise promise) {
        outputShutdowns++;
        return promise.setSuccess();
    }

    @Override
    public boolean isShutdown() {
        return isInputShutdown() && isOutputShutdown();
    }

    @Override
    public ChannelFuture shutdown() {
        return shutdown(newPromise());
    }

    @Override
    public ChannelFuture shutdown(ChannelPromise promise) {
        inputShutdown = true;
        outputShutdowns++;
        return promise.setSuccess();
    }
}
