package dev.onionrelay.relay;

import dev.onionrelay.layer.Layer;
import dev.onionrelay.layer.LayerStack;
import dev.onionrelay.layer.Side;
import dev.onionrelay.relay.proxy.ProxyOutcome;
import dev.onionrelay.relay.target.TargetRefusedException;
import dev.onionrelay.relay.upstream.HostPort;
import dev.onionrelay.relay.upstream.HttpConnectClient;
import dev.onionrelay.relay.upstream.ProxyConnectException;
import dev.onionrelay.relay.upstream.ProxyProtocol;
import dev.onionrelay.relay.upstream.ProxyProtocolHeader;
import dev.onionrelay.relay.upstream.Upstream;
import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.GenericFutureListener;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.util.List;
import java.util.function.Supplier;
import org.jspecify.annotations.Nullable;

/**
 * Finds the way to a tunnel's target and hands back the connected egress, its layers up, or a failure. The cut is here
 * because dialing is the part with the most cases (a fixed target, failover or round-robin over several, a requested
 * destination, a via proxy, a CONNECT through a layer's proxy hop, the PROXY header) and none of them matter once the
 * tunnel is open.
 *
 * <p>Between the TCP connect and the first egress layer, the {@link Upstream} settings apply: a CONNECT through a
 * plain HTTP proxy, then the PROXY protocol header; an egress layer that names a proxy hop asks it with CONNECT before
 * the next layer starts. With several fixed targets, a target that cannot be reached is skipped for this tunnel and
 * the next one tried, in the relay's balance order. It keeps the egress side as far as it got (its channel, splice
 * and stack) and hands back the way to the target ({@link Tunnel#open}) or a failure: the proxy-mode client's answer
 * and the tunnel's end. Event loop only.
 */
final class TargetDialer {

    /** Named for the tunnel: the API documents the via proxy's status line as logged by {@code Tunnel}. */
    private static final System.Logger LOG = System.getLogger(Tunnel.class.getName());

    private final Tunnel tunnel;
    /** For its statistics and the observer; everything the dial follows comes from {@link #definition}. */
    private final Relay relay;
    /** The definition the tunnel was accepted under: its targets, upstream, options and egress layers. */
    private final RelayDefinition definition;

    private final OnionEngine engine;
    private final RelayObserver observer;
    private final TunnelStackEvents events;
    /** Proxy modes: the client's front, answered when the target cannot be reached; null for fixed targets. */
    private final @Nullable ProxyFront front;

    private final TunnelEnding ending;
    /** Makes the splice of each egress channel the dialer opens. */
    private final Supplier<Splice> splices;
    /** Proxy modes: the destination the client asked for; null for fixed targets. */
    private @Nullable Endpoint requested;
    /** Fixed targets: the indexes this tunnel tries, in order, and which one it is trying. */
    private List<Integer> targetOrder = List.of();

    private int attempt;
    private volatile TunnelStatus.@Nullable Connected connected;
    /** The target's connection as soon as there is one (maybe still connecting), so that a close closes it. */
    private volatile @Nullable Channel channel;
    /** The splice of the target's connection: what the target sent, passed on. */
    private volatile @Nullable Splice splice;
    /** The egress stack, once the connection reaches the target. */
    private volatile @Nullable LayerStack stack;

    TargetDialer(
            Tunnel tunnel,
            OnionEngine engine,
            RelayObserver observer,
            TunnelStackEvents events,
            @Nullable ProxyFront front,
            TunnelEnding ending,
            Supplier<Splice> splices) {
        this.tunnel = tunnel;
        this.relay = tunnel.relay();
        this.definition = tunnel.definition();
        this.engine = engine;
        this.observer = observer;
        this.events = events;
        this.front = front;
        this.ending = ending;
        this.splices = splices;
    }

    /** The target's connection, once dialed (maybe still connecting). */
    @Nullable
    Channel channel() {
        return channel;
    }

    /** The egress stack, once the connection reaches the target. */
    @Nullable
    LayerStack stack() {
        return stack;
    }

    /** The bytes the target sent and the tunnel passed on; read from any thread. */
    long forwarded() {
        Splice egress = splice;
        return egress != null ? egress.forwarded() : 0;
    }

    /** Where the tunnel connected, once it did. */
    TunnelStatus.@Nullable Connected connected() {
        return connected;
    }

    /** Dials {@code destination} (proxy modes), or the relay's fixed targets in its balance order when null. */
    void dial(@Nullable Endpoint destination) {
        requested = destination;
        if (destination != null) {
            tryTarget(destination, engine.settings().targets().selectRequested(destination, loop()));
            return;
        }
        targetOrder = definition.balancer().order();
        attempt = 0;
        tryFixedTarget();
    }

    private io.netty.channel.EventLoop loop() {
        return tunnel.ingressChannel().eventLoop();
    }

    private boolean closed() {
        return tunnel.state() == TunnelState.CLOSED;
    }

    private void tryFixedTarget() {
        Endpoint target = definition.spec().target().endpoints().get(targetOrder.get(attempt));
        // Through a plain HTTP proxy the relay dials the proxy (checked like a target) and never resolves the target's
        // name itself: the proxy does, as corporate networks require.
        Endpoint via = definition.spec().upstream().via();
        tryTarget(target, engine.settings().targets().select(via != null ? via : target, loop()));
    }

    private void tryTarget(Endpoint target, Future<InetSocketAddress> address) {
        Bootstrap bootstrap = new Bootstrap()
                .group(loop())
                .channel(engine.transport().socketChannel())
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) Math.min(
                        Integer.MAX_VALUE,
                        definition.spec().options().connectTimeout().toMillis()))
                .option(ChannelOption.ALLOW_HALF_CLOSURE, true)
                .option(ChannelOption.TCP_NODELAY, true)
                // The same marks as the accepted side: with Netty's default (32/64 KiB) a single 64 KiB read from the
                // other side made this channel unwritable, and reads there stopped and restarted on every chunk.
                .option(ChannelOption.WRITE_BUFFER_WATER_MARK, OnionEngine.WATER_MARK)
                .option(ChannelOption.RCVBUF_ALLOCATOR, TunnelReads.into(tunnel.ingressChannel()))
                .handler(new ChannelInitializer<>() {
                    @Override
                    protected void initChannel(Channel channel) {
                        splice = splices.get();
                        channel.pipeline().addLast(Splice.NAME, splice);
                    }
                });
        address.addListener(guarded(selected -> {
            if (closed()) {
                return;
            }
            if (!selected.isSuccess()) {
                attemptFailed(
                        selected.cause() instanceof TargetRefusedException refused ? refused.reason() : "unresolved");
                return;
            }
            Endpoint via = definition.spec().upstream().via();
            if (requested != null && via != null) {
                // The destination the client named passed policy; the relay dials the via proxy, which reaches the
                // destination by name.
                engine.settings().targets().select(via, loop()).addListener(guarded(proxyAddress -> {
                    if (closed()) {
                        return;
                    }
                    if (!proxyAddress.isSuccess()) {
                        attemptFailed(
                                proxyAddress.cause() instanceof TargetRefusedException refused
                                        ? refused.reason()
                                        : "unresolved");
                        return;
                    }
                    connect(bootstrap, (InetSocketAddress) proxyAddress.getNow(), target);
                }));
                return;
            }
            connect(bootstrap, (InetSocketAddress) selected.getNow(), target);
        }));
    }

    /**
     * A target could not be used: with fixed targets it is marked down and the next one is tried, if any; otherwise
     * the dial fails (the client is answered in the proxy modes, and the tunnel ends gracefully).
     */
    private void attemptFailed(String reason) {
        connectFailed(reason);
        if (requested == null) {
            int index = targetOrder.get(attempt);
            observer.targetConnect(relay, index, reason);
            definition.balancer().markDown(index);
            if (++attempt < targetOrder.size()) {
                tryFixedTarget();
                return;
            }
        }
        failed(ProxyOutcome.ofConnectFailure(reason), "connect failed: " + reason, true);
    }

    /** The TCP connect to a target succeeded. */
    private void connectedTo(InetSocketAddress address, Endpoint target) {
        Integer index = null;
        if (requested == null) {
            index = targetOrder.get(attempt);
            definition.balancer().markUp(index);
            observer.targetConnect(relay, index, "connected");
        }
        connected = new TunnelStatus.Connected(index, target.toString(), TunnelStatus.address(address));
    }

    private void connect(Bootstrap bootstrap, InetSocketAddress address, Endpoint target) {
        ChannelFuture connect = bootstrap.connect(address);
        if (connect.isDone() && !connect.isSuccess() && !connect.channel().isRegistered()) {
            // No socket at all (no file descriptor left, say): Netty hands back a placeholder channel that cannot even
            // be closed, and completes the future off our event loop. Nothing to keep: the attempt failed here.
            boolean exhausted = DescriptorExhaustion.isExhaustion(connect.cause());
            if (exhausted) {
                engine.descriptorExhaustion().record(DescriptorExhaustion.Where.CONNECT);
            }
            attemptFailed(exhausted ? "no_descriptors" : "other");
            return;
        }
        channel = connect.channel();
        connect.addListener(guarded(f -> {
            if (closed()) {
                connect.channel().close();
                return;
            }
            if (!f.isSuccess()) {
                attemptFailed(connectFailureReason(f.cause()));
                return;
            }
            connectedTo(address, target);
            Upstream upstream = definition.spec().upstream();
            if (upstream.via() == null) {
                startEgress(connect.channel(), target);
                return;
            }
            HttpConnectClient.ask(
                            connect.channel().pipeline(),
                            Splice.NAME,
                            target,
                            definition.spec().options().connectTimeout())
                    .addListener(guarded(granted -> {
                        if (closed()) {
                            return;
                        }
                        if (!granted.isSuccess()) {
                            proxyFailed(granted.cause());
                            egressFailed(
                                    "the via proxy refused: " + granted.cause().getMessage(), true);
                            return;
                        }
                        startEgress(connect.channel(), target);
                    }));
        }));
    }

    /**
     * The TCP connection reaches the target (directly or through the via proxy): the PROXY header goes first, as the
     * first bytes the target reads, then the egress layers start, each one inside the one before, with a CONNECT
     * through every layer that names a proxy hop.
     */
    private void startEgress(Channel channel, Endpoint target) {
        ProxyProtocol proxyProtocol = definition.spec().upstream().proxyProtocol();
        Channel ingress = tunnel.ingressChannel();
        if (proxyProtocol != ProxyProtocol.OFF) {
            byte[] header = ProxyProtocolHeader.encode(
                    proxyProtocol, (InetSocketAddress) ingress.remoteAddress(), (InetSocketAddress)
                            ingress.localAddress());
            channel.writeAndFlush(Unpooled.wrappedBuffer(header), channel.voidPromise());
        }
        LayerStack egress = new LayerStack(
                channel,
                Side.EGRESS,
                Splice.NAME,
                target.host(),
                target.port(),
                definition.spec().options().minEgressDepth(),
                events);
        stack = egress;
        egress.pushAll(definition.egressLayers(), this::connectThroughHop).addListener(guarded(pushed -> {
            if (pushed.isSuccess()) {
                tunnel.open();
            } else {
                if (!closed() && pushed.cause() instanceof ProxyConnectException) {
                    // Not when we closed the tunnel ourselves (set-up deadline) and the proxy's connection went with
                    // it.
                    proxyFailed(pushed.cause());
                }
                egressFailed("egress handshake failed", false);
            }
        }));
    }

    /**
     * A step of the dial that throws (a class that cannot load for want of a file descriptor, say) closes the tunnel
     * at once: Netty would only log it, and the tunnel would wait for its set-up deadline, holding its slot.
     */
    private <F extends Future<?>> GenericFutureListener<F> guarded(GenericFutureListener<F> step) {
        return future -> {
            try {
                step.operationComplete(future);
            } catch (Throwable failure) {
                LOG.log(
                        System.Logger.Level.WARNING,
                        "tunnel {0} of relay {1}: dialing the target failed: {2}",
                        tunnel.id(),
                        definition.spec().name(),
                        String.valueOf(failure));
                tunnel.close();
            }
        };
    }

    /**
     * The way to the target failed after the TCP connect (via proxy, egress handshake, proxy hop): the tunnel ends
     * gracefully when the client's layers are intact ({@code graceful}) and closes when a handshake on the way failed.
     */
    private void egressFailed(String detail, boolean graceful) {
        failed(ProxyOutcome.UNREACHABLE, detail, graceful);
    }

    /**
     * The target cannot be reached ({@code outcome} for a proxy-mode client, {@code detail} for the audit): a
     * proxy-mode client gets its answer and the tunnel ends gracefully; otherwise the tunnel ends gracefully, or
     * closes when not {@code graceful}.
     */
    private void failed(ProxyOutcome outcome, String detail, boolean graceful) {
        if (front != null) {
            front.answer(outcome, detail);
            ending.endGracefully();
        } else if (graceful) {
            ending.endGracefully();
        } else {
            tunnel.close();
        }
    }

    /** After the handshake of an egress layer that names a proxy hop: CONNECT through it before the next layer. */
    private io.netty.util.concurrent.@Nullable Future<Void> connectThroughHop(LayerStack stack, Layer layer) {
        String hop = layer.spec().connect();
        if (hop == null) {
            return null;
        }
        return HttpConnectClient.ask(
                stack.channel().pipeline(),
                stack.innerAnchor(),
                HostPort.parse(hop),
                definition.spec().options().connectTimeout());
    }

    /** A proxy on the way did not grant the tunnel: counted as a connect failure under its reason, and logged. */
    private void proxyFailed(Throwable cause) {
        String reason = cause instanceof ProxyConnectException refused ? refused.reason() : "other";
        LOG.log(
                System.Logger.Level.INFO,
                "tunnel {0} of relay {1}: {2}",
                tunnel.id(),
                definition.spec().name(),
                cause.getMessage());
        connectFailed(reason);
    }

    private void connectFailed(String reason) {
        relay.stats().recordConnectFailure(reason);
        observer.connectFailed(relay, reason);
    }

    private static String connectFailureReason(Throwable cause) {
        if (cause instanceof io.netty.channel.ConnectTimeoutException) {
            return "timeout";
        }
        if (cause instanceof UnknownHostException) {
            return "unresolved";
        }
        if (cause instanceof ConnectException) {
            return "refused";
        }
        return "other";
    }
}
