package dev.onionrelay.relay;

import dev.onionrelay.layer.BelowMinimumDepthException;
import dev.onionrelay.layer.Initiator;
import dev.onionrelay.layer.Layer;
import dev.onionrelay.layer.LayerStack;
import dev.onionrelay.layer.LayerStatus;
import dev.onionrelay.layer.PreparedLayer;
import dev.onionrelay.layer.Side;
import dev.onionrelay.layer.StackListener;
import dev.onionrelay.relay.proxy.HttpConnectRequest;
import dev.onionrelay.relay.proxy.ProxyHandshake;
import dev.onionrelay.relay.proxy.ProxyOutcome;
import dev.onionrelay.relay.proxy.Socks5Handshake;
import dev.onionrelay.relay.target.TargetRefusedException;
import dev.onionrelay.relay.upstream.HostPort;
import dev.onionrelay.relay.upstream.HttpConnectClient;
import dev.onionrelay.relay.upstream.ProxyConnectException;
import dev.onionrelay.relay.upstream.ProxyProtocol;
import dev.onionrelay.relay.upstream.ProxyProtocolHeader;
import dev.onionrelay.relay.upstream.Upstream;
import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.channel.socket.DuplexChannel;
import io.netty.handler.timeout.IdleStateEvent;
import io.netty.handler.timeout.IdleStateHandler;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.Future;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.UnknownHostException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.jspecify.annotations.Nullable;

/**
 * One accepted connection and its connection to the target: two live stacks spliced together.
 *
 * <p>Set-up order (the target only after every ingress handshake): the ingress layers handshake first; only then is the target connected and the egress
 * layers pushed. Client bytes that arrive meanwhile are held and reading stops, so what is held is bounded by one
 * read. Between the TCP connect and the first egress layer, the {@link Upstream} settings apply: a CONNECT through a
 * plain HTTP proxy, then the PROXY protocol header; an egress layer that names a proxy hop asks it with CONNECT before
 * the next layer starts. Once both stacks are up, buffers pass from one channel to the other without copying, and a channel that
 * cannot write fast enough stops reads on the other (backpressure bounds memory per tunnel).
 *
 * <p>In the proxy modes the client names the destination first, inside the innermost ingress layer (one HTTP
 * {@code CONNECT} request or a SOCKS5 handshake, bounded in size and by the handshake timeout); it is checked against
 * policy like a configured target, and the answer goes back once the target is connected and its egress layers are
 * up. Bytes the client sent after its request wait with the other held bytes. With several fixed targets, a target
 * that cannot be reached is skipped for this tunnel and the next one tried, in the relay's balance order.
 *
 * <p>Ends (end of direction at the minimum depth): when one peer ends its direction (TCP FIN, or close_notify at the minimum depth), every layer
 * of the other side sends close_notify, innermost first, then TCP output is shut down. A relay with
 * {@link HalfClose#HOLD} holds the client's end back until the target's direction has ended and reached the client,
 * or its timeout passes. Once both directions have ended the tunnel still reads, and drops, what each peer sends until
 * its FIN, for at most {@link #LINGER}, then closes (a lingering close, see {@link #closeWhenPeersFinish}). It closes at
 * once on any error, on idle timeout, or when asked to.
 *
 * <p>All state is touched on the one event loop that both channels share.
 */
public final class Tunnel {

    private static final System.Logger LOG = System.getLogger(Tunnel.class.getName());

    static final String SPLICE = "splice";
    static final String IDLE = "idle";

    /**
     * How long a tunnel whose directions have both ended waits for its peers' FIN before it closes anyway (see {@link
     * #closeWhenPeersFinish}). Peers that end cleanly send it at once; this only bounds one that does not.
     */
    static final Duration LINGER = Duration.ofSeconds(5);

    private static final AtomicLong SEQUENCE = new AtomicLong();

    private final String id = UUID.randomUUID().toString();
    private final long sequence = SEQUENCE.incrementAndGet();
    private final Relay relay;
    private final OnionEngine engine;
    private final Transport transport;
    private final RelayObserver observer;
    private final Channel ingress;
    /** Its place in the relay's pending pool, then among its tunnels; given back when the tunnel ends. */
    private final Admission.Ticket ticket;

    private final TunnelTimers timers;
    private final Instant openedAt = Instant.now();
    private final LayerStack ingressStack;
    private volatile @Nullable Channel egress;
    private volatile @Nullable LayerStack egressStack;
    private volatile TunnelState state = TunnelState.HANDSHAKING;
    private final AtomicLong bytesIn = new AtomicLong();
    private final AtomicLong bytesOut = new AtomicLong();

    /** Client bytes that arrived before the target was ready. */
    private final ArrayDeque<ByteBuf> held = new ArrayDeque<>();

    private boolean ingressInputEnded;
    private boolean egressInputEnded;
    private boolean ingressOutputShut;
    private boolean egressOutputShut;
    /** Closes the tunnel while it waits for its peers' FIN (see {@link #closeWhenPeersFinish}); null until then. */
    private @Nullable Future<?> linger;
    /** The client's end of its direction waits to be passed on (see {@link #passOnClientEnd}). */
    private boolean clientEndHeld;

    /** How the client names its destination (proxy modes), null for fixed targets. */
    private final @Nullable ProxyHandshake proxy;
    /** The client's request bytes while it is being read. */
    private @Nullable ByteBuf request;

    private boolean awaitingRequest;
    private boolean requestStarted;
    private boolean proxyAnswered;
    private volatile @Nullable Endpoint requested;
    private volatile TunnelStatus.@Nullable Connected connected;
    /** Fixed targets: the indexes this tunnel tries, in order, and which one it is trying. */
    private List<Integer> targetOrder = List.of();

    private int attempt;

    Tunnel(Relay relay, Channel ingress, OnionEngine engine, RelayObserver observer, Admission.Ticket ticket) {
        this.relay = relay;
        this.ingress = ingress;
        this.ticket = ticket;
        this.timers = new TunnelTimers(ingress.eventLoop());
        this.engine = engine;
        this.transport = engine.transport();
        this.observer = observer;
        this.proxy = switch (relay.spec().target().mode()) {
            case FIXED -> null;
            case CONNECT -> new HttpConnectRequest();
            case SOCKS5 -> new Socks5Handshake();
        };
        InetSocketAddress client = (InetSocketAddress) ingress.remoteAddress();
        this.ingressStack = new LayerStack(
                ingress,
                Side.INGRESS,
                SPLICE,
                client.getHostString(),
                client.getPort(),
                relay.spec().options().minIngressDepth(),
                new Listener());
        Duration idle = relay.spec().options().idleTimeout();
        // Idle is judged on the client connection: reads there are uploads, writes there are downloads.
        ingress.pipeline().addLast(IDLE, new IdleStateHandler(0, 0, idle.toMillis(), TimeUnit.MILLISECONDS));
        ingress.pipeline().addLast(SPLICE, new Splice(Side.INGRESS));
        List<PreparedLayer> layers = relay.ingressLayers();
        // With ingress layers the client speaks first (its ClientHello); without, the target may (a banner). Half the
        // outer layer's handshake timeout at most, so that a silent client never reaches that timeout instead.
        Duration firstByteTimeout = layers.isEmpty()
                ? null
                : min(
                        engine.settings().admission().firstByteTimeout(),
                        layers.get(0).spec().handshakeTimeout().dividedBy(2));
        ingress.pipeline()
                .addFirst(
                        FirstByteWatch.NAME,
                        new FirstByteWatch(this::firstByteArrived, firstByteTimeout, this::firstByteTimedOut));
    }

    private static Duration min(Duration a, Duration b) {
        return a.compareTo(b) <= 0 ? a : b;
    }

    /** The client's first byte: admission, on a relay without ingress layers; else a pending connection that spoke. */
    private void firstByteArrived() {
        if (relay.ingressLayers().isEmpty()) {
            admit();
        } else {
            relay.admission().spoke(ticket);
        }
    }

    private void firstByteTimedOut() {
        if (state != TunnelState.CLOSED) {
            relay.rejected("first_byte_timeout");
            close();
        }
    }

    /** The client proved itself (see {@link Admission}): it takes a tunnel slot, or the tunnel closes. */
    private void admit() {
        String refusal = relay.admission().admit(ticket);
        if (refusal != null) {
            if (!refusal.equals("evicted")) {
                relay.rejected(refusal);
            }
            close();
        }
    }

    public String id() {
        return id;
    }

    long sequence() {
        return sequence;
    }

    /** The client's connection (tests look at its buffers). */
    Channel ingressChannel() {
        return ingress;
    }

    /** The target's connection, once connected (tests look at its buffers). */
    @Nullable
    Channel egressChannel() {
        return egress;
    }

    public Relay relay() {
        return relay;
    }

    public TunnelState state() {
        return state;
    }

    public Instant openedAt() {
        return openedAt;
    }

    /** The stack of one side, if that side exists yet (the egress side does once the target is connected). */
    public @Nullable LayerStack stack(Side side) {
        return side == Side.INGRESS ? ingressStack : egressStack;
    }

    public TunnelStatus status() {
        LayerStack egressSide = egressStack;
        return new TunnelStatus(
                id,
                relay.spec().name(),
                address(ingress.remoteAddress()),
                openedAt,
                state,
                bytesIn.get(),
                bytesOut.get(),
                stackStatus(ingressStack),
                egressSide != null
                        ? stackStatus(egressSide)
                        : new TunnelStatus.StackStatus(0, relay.spec().options().minEgressDepth(), List.of()),
                requested != null ? requested.toString() : null,
                connected);
    }

    private static TunnelStatus.StackStatus stackStatus(LayerStack stack) {
        return new TunnelStatus.StackStatus(stack.depth(), stack.minDepth(), stack.status());
    }

    private static String address(SocketAddress address) {
        if (address instanceof InetSocketAddress inet) {
            String host = inet.getAddress() != null ? inet.getAddress().getHostAddress() : inet.getHostString();
            return (host.contains(":") ? "[" + host + "]" : host) + ":" + inet.getPort();
        }
        return String.valueOf(address);
    }

    /** Starts the ingress handshakes; the rest follows from their outcome. Called once the channel is active. */
    void start() {
        // The whole set-up (every handshake and the connect) has a deadline, so slow peers cannot pile up.
        timers.schedule(
                () -> {
                    if (state == TunnelState.HANDSHAKING || state == TunnelState.CONNECTING) {
                        observer.tunnelRejected(relay, "setup_timeout");
                        close();
                    }
                },
                engine.settings().setupTimeout());
        ingressStack.pushAll(relay.ingressLayers()).addListener(f -> {
            if (f.isSuccess() && proxy != null) {
                awaitRequest();
            } else if (f.isSuccess()) {
                connectTarget();
            } else {
                close();
            }
        });
    }

    /** Proxy modes: reads the client's request from the plaintext inside the innermost ingress layer. */
    private void awaitRequest() {
        if (state == TunnelState.CLOSED) {
            return;
        }
        state = TunnelState.CONNECTING;
        awaitingRequest = true;
        requestStarted = true;
        ByteBuf bytes = ingress.alloc().buffer();
        while (!held.isEmpty()) {
            ByteBuf buf = held.poll();
            bytes.writeBytes(buf);
            buf.release();
        }
        request = bytes;
        timers.schedule(
                () -> {
                    if (awaitingRequest && state != TunnelState.CLOSED) {
                        refuseRequest(proxy.timedOut(), "request not complete in time");
                    }
                },
                relay.spec().options().handshakeTimeout());
        readRequest();
    }

    /** Feeds what the client sent so far to the proxy handshake and acts on what it makes of it. */
    private void readRequest() {
        ByteBuf bytes = request;
        if (!awaitingRequest || bytes == null) {
            return;
        }
        while (true) {
            ProxyHandshake.Step step = proxy.offer(bytes);
            if (step instanceof ProxyHandshake.Step.NeedMore more) {
                if (more.reply() != null) {
                    ingress.writeAndFlush(Unpooled.wrappedBuffer(more.reply()));
                    if (bytes.isReadable()) {
                        continue;
                    }
                }
                if (ingressInputEnded) {
                    refuseRequest(proxy.answer(ProxyOutcome.BAD_REQUEST), "the client ended before its request");
                    return;
                }
                bytes.discardReadBytes();
                setAutoRead(Side.INGRESS, true);
                return;
            }
            awaitingRequest = false;
            request = null;
            if (step instanceof ProxyHandshake.Step.Refusal refusal) {
                bytes.release();
                refuseRequest(refusal.reply(), refusal.why());
                return;
            }
            requested = ((ProxyHandshake.Step.Destination) step).destination();
            // The client's first data may have come with its request: it waits with the held bytes.
            if (bytes.isReadable()) {
                held.add(bytes);
            } else {
                bytes.release();
            }
            setAutoRead(Side.INGRESS, false);
            connectTarget();
            return;
        }
    }

    private void refuseRequest(byte @Nullable [] reply, String why) {
        awaitingRequest = false;
        ByteBuf bytes = request;
        request = null;
        if (bytes != null) {
            bytes.release();
        }
        answerProxy(ProxyOutcome.BAD_REQUEST, reply, why);
        endGracefully();
    }

    /** Counts and audits a proxy request's outcome (once per tunnel) and sends the client its answer, if any. */
    private void answerProxy(ProxyOutcome outcome, byte @Nullable [] reply, String detail) {
        if (proxy == null || proxyAnswered) {
            return;
        }
        proxyAnswered = true;
        Endpoint destination = requested;
        observer.proxyRequest(
                relay,
                address(ingress.remoteAddress()),
                proxy.mode(),
                destination != null ? destination.toString() : null,
                outcome.label(),
                detail);
        if (reply != null && ingress.isActive()) {
            ingress.writeAndFlush(Unpooled.wrappedBuffer(reply));
        }
    }

    private void connectTarget() {
        if (state == TunnelState.CLOSED) {
            return;
        }
        state = TunnelState.CONNECTING;
        Endpoint destination = requested;
        if (proxy != null && destination != null) {
            tryTarget(destination, engine.settings().targets().selectRequested(destination, ingress.eventLoop()));
            return;
        }
        targetOrder = relay.balancer().order();
        attempt = 0;
        tryFixedTarget();
    }

    private void tryFixedTarget() {
        Endpoint target = relay.spec().target().endpoints().get(targetOrder.get(attempt));
        // Through a plain HTTP proxy the relay dials the proxy (checked like a target) and never resolves the target's
        // name itself: the proxy does, as corporate networks require.
        Endpoint via = relay.spec().upstream().via();
        tryTarget(target, engine.settings().targets().select(via != null ? via : target, ingress.eventLoop()));
    }

    private void tryTarget(Endpoint target, Future<InetSocketAddress> address) {
        Bootstrap bootstrap = new Bootstrap()
                .group(ingress.eventLoop())
                .channel(transport.socketChannel())
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) Math.min(
                        Integer.MAX_VALUE,
                        relay.spec().options().connectTimeout().toMillis()))
                .option(ChannelOption.ALLOW_HALF_CLOSURE, true)
                .option(ChannelOption.TCP_NODELAY, true)
                // The same marks as the accepted side: with Netty's default (32/64 KiB) a single 64 KiB read from the
                // other side made this channel unwritable, and reads there stopped and restarted on every chunk.
                .option(ChannelOption.WRITE_BUFFER_WATER_MARK, OnionEngine.WATER_MARK)
                .option(ChannelOption.RCVBUF_ALLOCATOR, TunnelReads.into(ingress))
                .handler(new ChannelInitializer<>() {
                    @Override
                    protected void initChannel(Channel channel) {
                        channel.pipeline().addLast(SPLICE, new Splice(Side.EGRESS));
                    }
                });
        address.addListener(selected -> {
            if (state == TunnelState.CLOSED) {
                return;
            }
            if (!selected.isSuccess()) {
                connectAttemptFailed(
                        selected.cause() instanceof TargetRefusedException refused ? refused.reason() : "unresolved");
                return;
            }
            Endpoint via = relay.spec().upstream().via();
            if (proxy != null && via != null) {
                // The destination the client named passed policy; the relay dials the via proxy, which reaches the
                // destination by name.
                engine.settings().targets().select(via, ingress.eventLoop()).addListener(proxyAddress -> {
                    if (state == TunnelState.CLOSED) {
                        return;
                    }
                    if (!proxyAddress.isSuccess()) {
                        connectAttemptFailed(
                                proxyAddress.cause() instanceof TargetRefusedException refused
                                        ? refused.reason()
                                        : "unresolved");
                        return;
                    }
                    connect(bootstrap, (InetSocketAddress) proxyAddress.getNow(), target);
                });
                return;
            }
            connect(bootstrap, (InetSocketAddress) selected.getNow(), target);
        });
    }

    /**
     * A target could not be used: with fixed targets it is marked down and the next one is tried, if any; otherwise
     * the client is answered (proxy modes) and the tunnel ends.
     */
    private void connectAttemptFailed(String reason) {
        connectFailed(reason);
        if (proxy == null) {
            int index = targetOrder.get(attempt);
            observer.targetConnect(relay, index, reason);
            relay.balancer().markDown(index);
            if (++attempt < targetOrder.size()) {
                tryFixedTarget();
                return;
            }
        } else {
            ProxyOutcome outcome = ProxyOutcome.ofConnectFailure(reason);
            answerProxy(outcome, proxy.answer(outcome), "connect failed: " + reason);
        }
        endGracefully();
    }

    /** The TCP connect to a target succeeded. */
    private void connectedTo(InetSocketAddress address, Endpoint target) {
        Integer index = null;
        if (proxy == null) {
            index = targetOrder.get(attempt);
            relay.balancer().markUp(index);
            observer.targetConnect(relay, index, "connected");
        }
        connected = new TunnelStatus.Connected(index, target.toString(), address(address));
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
            connectAttemptFailed(exhausted ? "no_descriptors" : "other");
            return;
        }
        egress = connect.channel();
        connect.addListener(f -> {
            if (state == TunnelState.CLOSED) {
                connect.channel().close();
                return;
            }
            if (!f.isSuccess()) {
                connectAttemptFailed(connectFailureReason(f.cause()));
                return;
            }
            connectedTo(address, target);
            Upstream upstream = relay.spec().upstream();
            if (upstream.via() == null) {
                startEgress(connect.channel(), target);
                return;
            }
            HttpConnectClient.ask(
                            connect.channel().pipeline(),
                            SPLICE,
                            target,
                            relay.spec().options().connectTimeout())
                    .addListener(granted -> {
                        if (state == TunnelState.CLOSED) {
                            return;
                        }
                        if (!granted.isSuccess()) {
                            proxyFailed(granted.cause());
                            egressFailed(
                                    "the via proxy refused: " + granted.cause().getMessage(), true);
                            return;
                        }
                        startEgress(connect.channel(), target);
                    });
        });
    }

    /**
     * The TCP connection reaches the target (directly or through the via proxy): the PROXY header goes first, as the
     * first bytes the target reads, then the egress layers start, each one inside the one before, with a CONNECT
     * through every layer that names a proxy hop.
     */
    private void startEgress(Channel channel, Endpoint target) {
        ProxyProtocol proxyProtocol = relay.spec().upstream().proxyProtocol();
        if (proxyProtocol != ProxyProtocol.OFF) {
            byte[] header = ProxyProtocolHeader.encode(
                    proxyProtocol, (InetSocketAddress) ingress.remoteAddress(), (InetSocketAddress)
                            ingress.localAddress());
            channel.writeAndFlush(Unpooled.wrappedBuffer(header), channel.voidPromise());
        }
        LayerStack stack = new LayerStack(
                channel,
                Side.EGRESS,
                SPLICE,
                target.host(),
                target.port(),
                relay.spec().options().minEgressDepth(),
                new Listener());
        egressStack = stack;
        stack.pushAll(relay.egressLayers(), this::connectThroughHop).addListener(pushed -> {
            if (pushed.isSuccess()) {
                open();
            } else {
                if (state != TunnelState.CLOSED && pushed.cause() instanceof ProxyConnectException) {
                    // Not when we closed the tunnel ourselves (set-up deadline) and the proxy's connection went with
                    // it.
                    proxyFailed(pushed.cause());
                }
                egressFailed("egress handshake failed", false);
            }
        });
    }

    /**
     * The way to the target failed after the TCP connect (via proxy, egress handshake, proxy hop): a proxy-mode client
     * gets its answer and the tunnel ends gracefully; otherwise the tunnel ends gracefully when the client's layers
     * are intact ({@code graceful}) and closes when a handshake on the way failed.
     */
    private void egressFailed(String detail, boolean graceful) {
        if (proxy != null) {
            answerProxy(ProxyOutcome.UNREACHABLE, proxy.answer(ProxyOutcome.UNREACHABLE), detail);
            endGracefully();
        } else if (graceful) {
            endGracefully();
        } else {
            close();
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
                relay.spec().options().connectTimeout());
    }

    /** A proxy on the way did not grant the tunnel: counted as a connect failure under its reason, and logged. */
    private void proxyFailed(Throwable cause) {
        String reason = cause instanceof ProxyConnectException refused ? refused.reason() : "other";
        LOG.log(
                System.Logger.Level.INFO,
                "tunnel {0} of relay {1}: {2}",
                id,
                relay.spec().name(),
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

    /** Both stacks are up: release the held bytes and let bytes flow. */
    private void open() {
        if (state == TunnelState.CLOSED || lingering()) {
            return;
        }
        state = TunnelState.OPEN;
        if (proxy != null) {
            TunnelStatus.Connected to = connected;
            answerProxy(
                    ProxyOutcome.GRANTED,
                    proxy.answer(ProxyOutcome.GRANTED),
                    "connected to " + (to != null ? to.address() : "?"));
        }
        Channel target = egress;
        while (!held.isEmpty()) {
            forward(Side.INGRESS, held.poll(), target);
        }
        target.flush();
        if (ingressInputEnded) {
            passOnClientEnd();
        } else {
            setAutoRead(Side.INGRESS, target.isWritable());
        }
    }

    private void forward(Side from, ByteBuf buf, Channel to) {
        int bytes = buf.readableBytes();
        if (from == Side.INGRESS) {
            bytesIn.addAndGet(bytes);
            relay.stats().bytesIn.add(bytes);
        } else {
            bytesOut.addAndGet(bytes);
            relay.stats().bytesOut.add(bytes);
        }
        to.write(buf, to.voidPromise());
    }

    /**
     * Starts or stops reads on one side, unless its input has ended: the epoll transport fails (ENOENT from
     * epoll_ctl) when interest in reads changes on a socket whose input is already shut down.
     */
    private void setAutoRead(Side side, boolean autoRead) {
        Channel channel = side == Side.INGRESS ? ingress : egress;
        boolean ended = side == Side.INGRESS ? ingressInputEnded : egressInputEnded;
        if (!autoRead
                && (state == TunnelState.OPEN || state == TunnelState.HALF_CLOSED)
                && PopAnswerReads.keepReading(stack(side), side == Side.INGRESS ? egress : ingress)) {
            return;
        }
        if (channel != null && !ended && channel.isActive()) {
            channel.config().setAutoRead(autoRead);
        }
    }

    /** The peer on {@code side} will send nothing more. */
    private void inputEnded(Side side) {
        if (side == Side.INGRESS) {
            if (ingressInputEnded) {
                return;
            }
            ingressInputEnded = true;
            if (awaitingRequest) {
                // The client ended its direction before its proxy request was complete.
                readRequest();
                return;
            }
            if (state == TunnelState.OPEN || state == TunnelState.HALF_CLOSED) {
                passOnClientEnd();
            } else if (state != TunnelState.CONNECTING) {
                // The client left before its handshakes finished: nothing to hand on.
                close();
                return;
            }
            // While connecting, open() forwards the held bytes and then ends the egress direction.
        } else {
            if (egressInputEnded) {
                return;
            }
            egressInputEnded = true;
            endOutbound(Side.INGRESS);
        }
        if (state == TunnelState.OPEN) {
            state = TunnelState.HALF_CLOSED;
        }
    }

    /**
     * The client ended its direction: end ours towards the target, at once or, with {@link HalfClose#HOLD}, once the
     * target's direction has ended and reached the client (or the hold times out). Peers such as stunnel drop the
     * unread rest of their response as soon as the client's side closes.
     */
    private void passOnClientEnd() {
        RelayOptions options = relay.spec().options();
        if (options.halfClose() != HalfClose.HOLD || ingressOutputShut) {
            endOutbound(Side.EGRESS);
            return;
        }
        clientEndHeld = true;
        timers.schedule(this::releaseClientEnd, options.halfCloseTimeout());
    }

    private void releaseClientEnd() {
        if (clientEndHeld && state != TunnelState.CLOSED) {
            clientEndHeld = false;
            endOutbound(Side.EGRESS);
        }
    }

    /** Ends our output on {@code side}: close_notify on each layer, innermost first, then TCP FIN. */
    private void endOutbound(Side side) {
        LayerStack stack = stack(side);
        Channel channel = side == Side.INGRESS ? ingress : egress;
        if (stack == null || channel == null) {
            close();
            return;
        }
        stack.closeOutbound().addListener(f -> {
            if (channel instanceof DuplexChannel duplex && channel.isActive()) {
                duplex.shutdownOutput().addListener(shut -> outputShut(side));
            } else {
                outputShut(side);
            }
        });
    }

    private void outputShut(Side side) {
        if (side == Side.INGRESS) {
            ingressOutputShut = true;
            // The response has reached the client in full: a held end of the client's direction may follow now.
            releaseClientEnd();
        } else {
            egressOutputShut = true;
        }
        if (ingressOutputShut && egressOutputShut) {
            closeWhenPeersFinish();
        }
    }

    /**
     * Our side is done and our FIN is out on each connection we shut: close once each of those peers has sent its FIN
     * too, or after {@link #LINGER}. A peer may end its direction with a close_notify at the minimum depth while the
     * layers outside it are still on their way (their close_notify, then its FIN); a socket closed with such bytes
     * unread, or receiving them after the close, is reset, and the reset throws away what the peer has not read yet of
     * our answer. So the rest is read and dropped first: the lingering close of HTTP servers.
     */
    private void closeWhenPeersFinish() {
        if (state == TunnelState.CLOSED) {
            return;
        }
        boolean waiting = false;
        for (Side side : Side.values()) {
            Channel channel = side == Side.INGRESS ? ingress : egress;
            boolean shut = side == Side.INGRESS ? ingressOutputShut : egressOutputShut;
            if (channel != null && shut && inputOpen(channel)) {
                waiting = true;
                channel.config().setAutoRead(true);
            }
        }
        if (!waiting) {
            close();
        } else if (linger == null) {
            linger = timers.schedule(this::close, LINGER);
        }
    }

    /** Whether both directions are done and the tunnel only waits for its peers' FIN. */
    private boolean lingering() {
        return linger != null;
    }

    /** Whether the peer on {@code channel} may still send: connected, and no FIN read yet. */
    private static boolean inputOpen(Channel channel) {
        return channel.isActive() && !(channel instanceof DuplexChannel duplex && duplex.isInputShutdown());
    }

    /**
     * Ends the client connection politely when there is nothing to relay: close_notify on every layer, FIN, then the
     * lingering close, so that a client still sending does not lose the answer (a proxy refusal, say) to a reset.
     */
    private void endGracefully() {
        ingressStack.closeOutbound().addListener(f -> {
            if (f.isSuccess() && ingress instanceof DuplexChannel duplex && ingress.isActive()) {
                duplex.shutdownOutput().addListener(shut -> {
                    ingressOutputShut = true;
                    closeWhenPeersFinish();
                });
            } else {
                close();
            }
        });
    }

    /** Pops the innermost layer of one side from our end (stopTLS). */
    public Future<Void> popLocal(Side side) {
        io.netty.util.concurrent.Promise<Void> result = ingress.eventLoop().newPromise();
        ingress.eventLoop().execute(() -> {
            LayerStack stack = stack(side);
            if (stack == null) {
                result.setFailure(new BelowMinimumDepthException(side, 0));
                return;
            }
            try {
                stack.popLocal();
                // The peer's answer must be read whatever the other side's backpressure (see PopAnswerReads).
                setAutoRead(side, true);
                result.setSuccess(null);
            } catch (BelowMinimumDepthException e) {
                result.setFailure(e);
            }
        });
        return result;
    }

    /**
     * Why a layer cannot be pushed on this tunnel now (it is not open), or null when it can. The same check runs again
     * on the event loop when the push happens.
     */
    public @Nullable String pushRefusal(Side side) {
        TunnelState now = state;
        if (stack(side) == null || now == TunnelState.CLOSED || now == TunnelState.HALF_CLOSED) {
            return "tunnel " + id + " is " + now + "; layers can only be pushed while it is open";
        }
        return null;
    }

    /**
     * Pushes one more innermost layer on one side (startTLS). The result is the pushed layer's status, taken on the
     * event loop right after the push, so that a pop that follows cannot make it describe another layer.
     *
     * @return fails with {@link IllegalStateException} (the {@link #pushRefusal} reason) when the tunnel is not open
     */
    public Future<LayerStatus> push(Side side, PreparedLayer layer) {
        return push(side, layer, PushRules.NONE);
    }

    /**
     * As {@link #push(Side, PreparedLayer)}, and refused with a {@link RelayException} when {@code rules} refuse it
     * on the event loop, against the stack as it is then (see {@link PushRules}).
     */
    public Future<LayerStatus> push(Side side, PreparedLayer layer, PushRules rules) {
        io.netty.util.concurrent.Promise<LayerStatus> result =
                ingress.eventLoop().newPromise();
        ingress.eventLoop().execute(() -> {
            String refusal = pushRefusal(side);
            if (refusal != null) {
                result.setFailure(new IllegalStateException(refusal));
                return;
            }
            LayerStack stack = stack(side);
            RelayException broken = rules.refusal(id, stack, layer.spec().name());
            if (broken != null) {
                result.setFailure(broken);
                return;
            }
            try {
                stack.push(layer);
                List<LayerStatus> layers = stack.status();
                result.setSuccess(layers.get(layers.size() - 1));
            } catch (RuntimeException cannotStart) {
                // Counted by the stack; the caller learns it too instead of waiting forever.
                result.setFailure(cannotStart);
            }
        });
        return result;
    }

    /** Closes both connections now. Idempotent. */
    public void close() {
        if (!ingress.eventLoop().inEventLoop()) {
            ingress.eventLoop().execute(this::close);
            return;
        }
        if (state == TunnelState.CLOSED) {
            // Whatever an earlier close could not finish; a DELETE of a tunnel removes it whatever its state.
            relay.tunnelClosed(this, ticket);
            return;
        }
        try {
            closeConnections();
        } finally {
            // Every path that ends a tunnel ends here: its places go back and it is no longer listed, even when
            // something above threw.
            relay.tunnelClosed(this, ticket);
        }
    }

    private void closeConnections() {
        if (requestStarted && !proxyAnswered) {
            // Closed before the request was answered (set-up timeout, the client left, an error): still one outcome.
            answerProxy(
                    requested == null ? ProxyOutcome.BAD_REQUEST : ProxyOutcome.TIMEOUT,
                    null,
                    requested == null ? "closed before the request was complete" : "closed while connecting");
        }
        state = TunnelState.CLOSED;
        timers.cancelAll();
        ByteBuf unread = request;
        request = null;
        awaitingRequest = false;
        if (unread != null) {
            unread.release();
        }
        ingressStack.abandon();
        LayerStack egressSide = egressStack;
        if (egressSide != null) {
            egressSide.abandon();
        }
        while (!held.isEmpty()) {
            ReferenceCountUtil.release(held.poll());
        }
        ingress.close();
        Channel target = egress;
        if (target != null) {
            target.close();
        }
    }

    /** Splices one channel into the other; one instance per channel, innermost in its pipeline. */
    private final class Splice extends ChannelInboundHandlerAdapter {

        private final Side side;
        private boolean needsFlush;

        Splice(Side side) {
            this.side = side;
        }

        private @Nullable Channel other() {
            return side == Side.INGRESS ? egress : ingress;
        }

        @Override
        public void channelActive(ChannelHandlerContext ctx) {
            if (side == Side.INGRESS) {
                start();
            }
            ctx.fireChannelActive();
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (!(msg instanceof ByteBuf buf)) {
                ReferenceCountUtil.release(msg);
                return;
            }
            LayerStack own = stack(side);
            if (state == TunnelState.CLOSED || lingering() || (own != null && own.inboundEnded())) {
                // End of direction at the minimum depth: after the peer ended this direction, bytes on the wire are not
                // data.
                buf.release();
                return;
            }
            if (side == Side.INGRESS && awaitingRequest && request != null) {
                // Proxy modes: the client's request, read inside every ingress layer.
                request.writeBytes(buf);
                buf.release();
                readRequest();
                return;
            }
            if (side == Side.INGRESS && state != TunnelState.OPEN && state != TunnelState.HALF_CLOSED) {
                // The target only after every ingress handshake: hold what came with the last handshake and stop
                // reading until the target is ready.
                held.add(buf);
                setAutoRead(side, false);
                return;
            }
            Channel to = other();
            if (to == null) {
                buf.release();
                return;
            }
            forward(side, buf, to);
            needsFlush = true;
            if (!to.isWritable()) {
                // Backpressure, within a read batch: stop before the next read instead of after up to 16 of them.
                setAutoRead(side, false);
            }
        }

        @Override
        public void channelReadComplete(ChannelHandlerContext ctx) {
            Channel to = other();
            if (needsFlush && to != null) {
                needsFlush = false;
                to.flush();
                if (!to.isWritable()) {
                    // Backpressure: the other side is slow; stop reading here until it drains.
                    setAutoRead(side, false);
                }
            }
            ctx.fireChannelReadComplete();
        }

        @Override
        public void channelWritabilityChanged(ChannelHandlerContext ctx) {
            if (ctx.channel().isWritable() && (state == TunnelState.OPEN || state == TunnelState.HALF_CLOSED)) {
                setAutoRead(side == Side.INGRESS ? Side.EGRESS : Side.INGRESS, true);
            }
            ctx.fireChannelWritabilityChanged();
        }

        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object event) {
            if (event instanceof ChannelInputShutdownEvent) {
                inputEnded(side);
                if (lingering()) {
                    closeWhenPeersFinish();
                }
            } else if (event instanceof IdleStateEvent) {
                close();
            }
            ReferenceCountUtil.release(event);
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            close();
            ctx.fireChannelInactive();
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            // Handshake failures are reported through the layer's handshake future; anything else ends the tunnel.
            close();
        }
    }

    /** Turns stack events into relay statistics and observer calls. */
    private final class Listener implements StackListener {

        @Override
        public void handshakeSucceeded(LayerStack stack, Layer layer, Duration took) {
            relay.stats().handshakesSucceeded.increment();
            observer.handshakeSucceeded(relay, stack.side(), layer.name(), took);
            if (stack.side() == Side.INGRESS && !relay.admission().admitted(ticket)) {
                // The outermost ingress handshake: the client has proved itself.
                admit();
            }
        }

        @Override
        public void handshakeFailed(LayerStack stack, Layer layer, String reason, Throwable cause) {
            recordFailure(stack, layer.name(), reason, layer.failureAlert());
        }

        @Override
        public void handshakeNotStarted(LayerStack stack, String layer, String reason, Throwable cause) {
            recordFailure(stack, layer, reason, null);
        }

        private void recordFailure(LayerStack stack, String layer, String reason, @Nullable String alert) {
            SocketAddress peer = stack.channel().remoteAddress();
            relay.stats()
                    .recordFailure(new RelayStats.HandshakeFailure(
                            Instant.now(),
                            stack.side().label(),
                            layer,
                            reason,
                            alert,
                            peer != null ? address(peer) : "unknown"));
            observer.handshakeFailed(relay, stack.side(), layer, reason, peer);
        }

        @Override
        public void pushed(LayerStack stack, Layer layer, Initiator initiator) {
            observer.layerPushed(relay, stack.side(), initiator);
        }

        @Override
        public void popped(LayerStack stack, Layer layer, Initiator initiator) {
            observer.layerPopped(relay, stack.side(), initiator);
        }

        @Override
        public void inboundEnded(LayerStack stack) {
            inputEnded(stack.side());
        }

        @Override
        public void protocolViolation(LayerStack stack, String what) {
            LOG.log(
                    System.Logger.Level.WARNING,
                    "tunnel {0} of relay {1} closed: protocol violation by the {2} peer: {3}",
                    id,
                    relay.spec().name(),
                    stack.side().label(),
                    what);
            observer.protocolViolation(relay, stack.side(), what);
            close();
        }
    }
}
