package dev.onionrelay.relay;

import dev.onionrelay.layer.LayerStack;
import dev.onionrelay.layer.Side;
import dev.onionrelay.layer.StackListener;
import io.netty.channel.Channel;
import java.net.InetSocketAddress;
import org.jspecify.annotations.Nullable;

/**
 * What the splice and the ending see of a tunnel, for tests of those pieces on {@link DuplexEmbeddedChannel}s: two
 * channels, a stack without layers on each, a state the test sets, and a record of what the pieces asked of the
 * tunnel (close, the client's end during set-up).
 */
final class TestTunnel implements TunnelEnding.Owner {

    final DuplexEmbeddedChannel ingress = new DuplexEmbeddedChannel();
    final DuplexEmbeddedChannel egress = new DuplexEmbeddedChannel();
    final LayerStack ingressStack = stack(ingress, Side.INGRESS);
    final LayerStack egressStack = stack(egress, Side.EGRESS);
    TunnelState state = TunnelState.OPEN;
    int closes;
    int clientEndsDuringSetUp;

    private static LayerStack stack(Channel channel, Side side) {
        InetSocketAddress peer = new InetSocketAddress("127.0.0.1", 1);
        return new LayerStack(
                channel, side, Splice.NAME, peer.getHostString(), peer.getPort(), 0, new StackListener() {});
    }

    @Override
    public TunnelState state() {
        return state;
    }

    @Override
    public void halfClosed() {
        state = TunnelState.HALF_CLOSED;
    }

    @Override
    public @Nullable Channel channel(Side side) {
        return side == Side.INGRESS ? ingress : egress;
    }

    @Override
    public @Nullable LayerStack stack(Side side) {
        return side == Side.INGRESS ? ingressStack : egressStack;
    }

    @Override
    public void clientEndedDuringSetUp() {
        clientEndsDuringSetUp++;
    }

    @Override
    public void close() {
        closes++;
        state = TunnelState.CLOSED;
    }

    /** Runs what both channels' event loops have to do now. */
    void runPending() {
        ingress.runPendingTasks();
        egress.runPendingTasks();
    }

    /** Releases what the channels still hold. */
    void finish() {
        ingress.finishAndReleaseAll();
        egress.finishAndReleaseAll();
    }
}
