package dev.onionrelay.relay;

import dev.onionrelay.layer.BelowMinimumDepthException;
import dev.onionrelay.layer.LayerStack;
import dev.onionrelay.layer.LayerStatus;
import dev.onionrelay.layer.PreparedLayer;
import dev.onionrelay.layer.Side;
import io.netty.channel.Channel;
import io.netty.handler.timeout.IdleStateHandler;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;
import java.net.InetSocketAddress;
import java.time.Instant;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;
import org.jspecify.annotations.Nullable;

/**
 * One accepted connection and its connection to the target: two live stacks spliced together. The tunnel keeps the
 * state, starts and closes, pushes and pops layers and reports its status; each role on the way has its own class, as
 * in Netty's proxy example: {@link TunnelAdmission} lets the client in, the proxy modes' {@link ProxyFront} reads its
 * request, the {@link TargetDialer} finds the way to the target, one {@link Splice} per channel moves the bytes, and
 * {@link TunnelEnding} ends each direction and then the tunnel.
 *
 * <p>Set-up order (the target only after every ingress handshake): the ingress layers handshake first; only then (in
 * the proxy modes, once the client named its destination) is the target connected and the egress layers pushed.
 * Client bytes that arrive meanwhile are held and reading stops, so what is held is bounded by one read. Once both
 * stacks are up, the held bytes go to the target, a proxy-mode client gets its answer, and bytes flow.
 *
 * <p>A tunnel follows the {@link RelayDefinition} its relay had when it was accepted, from its set-up to its end: every
 * part of it reads that one ({@link #definition}), never the relay's current one, so a replacement of the relay
 * ({@code PUT /relays/{id}}) changes only the tunnels accepted after it.
 *
 * <p>All state is touched on the one event loop that both channels share.
 */
public final class Tunnel {

    static final String IDLE = "idle";

    private static final AtomicLong SEQUENCE = new AtomicLong();

    /**
     * A random (version 4) UUID from the event loop's own generator: ids name tunnels, they guard nothing (every call
     * that takes one needs the admin token), and {@code UUID.randomUUID} draws from the process-wide SecureRandom,
     * whose lock every connection of a flood took on every event loop at once.
     */
    private final String id = randomUuid().toString();

    private final long sequence = SEQUENCE.incrementAndGet();
    private final Relay relay;
    /** The revision of the relay's definition this tunnel was accepted under; the only one it reads. */
    private final RelayDefinition definition;

    private final OnionEngine engine;
    private final RelayObserver observer;
    private final Channel ingress;
    /** Its place in the relay's pending pool, then among its tunnels; given back when the tunnel ends. */
    private final Admission.Ticket ticket;

    private final TunnelTimers timers;
    private final Instant openedAt = Instant.now();
    private final Parts parts = new Parts();
    private final TunnelEnding ending;
    /** How the client names its destination (proxy modes), null for fixed targets. */
    private final @Nullable ProxyFront front;

    private final TargetDialer dialer;
    private final LayerStack ingressStack;
    private final Splice ingressSplice;
    private final TunnelAdmission admission;
    private volatile TunnelState state = TunnelState.HANDSHAKING;

    Tunnel(
            Relay relay,
            RelayDefinition definition,
            Channel ingress,
            OnionEngine engine,
            RelayObserver observer,
            Admission.Ticket ticket) {
        this.relay = relay;
        this.definition = definition;
        this.ingress = ingress;
        this.ticket = ticket;
        this.timers = new TunnelTimers(ingress.eventLoop());
        this.engine = engine;
        this.observer = observer;
        RelayOptions options = definition.spec().options();
        this.ending = new TunnelEnding(parts, timers, options.halfClose(), options.halfCloseTimeout());
        this.front = ProxyFront.of(definition.spec().target().mode(), this, timers, observer, ending);
        this.admission = new TunnelAdmission(this, ticket, observer);
        TunnelStackEvents events = new TunnelStackEvents(this, observer, admission, ending);
        Supplier<Splice> egressSplice =
                () -> new Splice(Side.EGRESS, parts, ending, null, relay.stats().bytesOut, () -> {});
        this.dialer = new TargetDialer(this, engine, observer, events, front, ending, egressSplice);
        InetSocketAddress client = (InetSocketAddress) ingress.remoteAddress();
        this.ingressStack = new LayerStack(
                ingress,
                Side.INGRESS,
                Splice.NAME,
                client.getHostString(),
                client.getPort(),
                options.minIngressDepth(),
                events);
        // Idle is judged on the client connection: reads there are uploads, writes there are downloads.
        long idle = options.idleTimeout().toMillis();
        ingress.pipeline().addLast(IDLE, new IdleStateHandler(0, 0, idle, TimeUnit.MILLISECONDS));
        this.ingressSplice = new Splice(Side.INGRESS, parts, ending, front, relay.stats().bytesIn, this::start);
        ingress.pipeline().addLast(Splice.NAME, ingressSplice);
        admission.watch(ingress, engine);
    }

    public String id() {
        return id;
    }

    static UUID randomUuid() {
        ThreadLocalRandom random = ThreadLocalRandom.current();
        long high = (random.nextLong() & ~0xF000L) | 0x4000L; // version 4
        long low = (random.nextLong() & ~(0xC000L << 48)) | (0x8000L << 48); // IETF variant
        return new UUID(high, low);
    }

    /** The order tunnels were accepted in (they are listed in it). */
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
        return dialer.channel();
    }

    public Relay relay() {
        return relay;
    }

    /** The definition this tunnel follows: its relay's as it was when the tunnel was accepted. */
    public RelayDefinition definition() {
        return definition;
    }

    public TunnelState state() {
        return state;
    }

    public Instant openedAt() {
        return openedAt;
    }

    /** The stack of one side, if that side exists yet (the egress side does once the target is connected). */
    public @Nullable LayerStack stack(Side side) {
        return side == Side.INGRESS ? ingressStack : dialer.stack();
    }

    public TunnelStatus status() {
        RelayOptions options = definition.spec().options();
        Endpoint requested = front != null ? front.requested() : null;
        return new TunnelStatus(
                id,
                definition.spec().name(),
                definition.revision(),
                TunnelStatus.address(ingress.remoteAddress()),
                openedAt,
                state,
                ingressSplice.forwarded(),
                dialer.forwarded(),
                TunnelStatus.StackStatus.of(ingressStack, options.minIngressDepth()),
                TunnelStatus.StackStatus.of(dialer.stack(), options.minEgressDepth()),
                requested != null ? requested.toString() : null,
                dialer.connected());
    }

    /**
     * Starts the set-up deadline, and the ingress handshakes at the client's first byte; the rest follows from their
     * outcome. Called once the channel is active.
     */
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
        // The TLS engines only once the client's first byte is in (TunnelAdmission): a silent connection costs none.
        admission.onFirstByte(layers -> ingressStack.pushAll(layers).addListener(f -> {
            if (!f.isSuccess()) {
                close();
            } else if (front == null) {
                connectTarget();
            } else if (state != TunnelState.CLOSED) {
                // Proxy modes: the client's request, read from the plaintext inside the innermost ingress layer.
                state = TunnelState.CONNECTING;
                front.awaitRequest(ingressSplice);
            }
        }));
    }

    /** The destination is known (a fixed target, or what the client asked for): the target is dialed. */
    void connectTarget() {
        if (state == TunnelState.CLOSED) {
            return;
        }
        state = TunnelState.CONNECTING;
        dialer.dial(front != null ? front.requested() : null);
    }

    /** Both stacks are up: release the held bytes and let bytes flow. */
    void open() {
        if (state == TunnelState.CLOSED || ending.lingering()) {
            return;
        }
        state = TunnelState.OPEN;
        if (front != null) {
            front.granted(dialer.connected());
        }
        ingressSplice.opened(dialer.channel());
    }

    /** Pops the innermost layer of one side from our end (stopTLS). */
    public Future<Void> popLocal(Side side) {
        Promise<Void> result = ingress.eventLoop().newPromise();
        ingress.eventLoop().execute(() -> {
            LayerStack stack = stack(side);
            if (stack == null) {
                result.setFailure(new BelowMinimumDepthException(side, 0));
                return;
            }
            try {
                stack.popLocal();
                // The peer's answer must be read whatever the other side's backpressure (see PopAnswerReads).
                ingressSplice.setAutoRead(side, true);
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
        Promise<LayerStatus> result = ingress.eventLoop().newPromise();
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

    /** Closes both connections now: on any error, on idle timeout, or when asked to. Idempotent. */
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
        if (front != null) {
            front.closed();
        }
        state = TunnelState.CLOSED;
        timers.cancelAll();
        ingressStack.abandon();
        LayerStack egressStack = dialer.stack();
        if (egressStack != null) {
            egressStack.abandon();
        }
        ingressSplice.dropHeld();
        ingress.close();
        Channel target = dialer.channel();
        if (target != null) {
            target.close();
        }
    }

    /** What the splices and the ending see of this tunnel. */
    private final class Parts implements TunnelEnding.Owner {

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
            return side == Side.INGRESS ? ingress : dialer.channel();
        }

        @Override
        public @Nullable LayerStack stack(Side side) {
            return Tunnel.this.stack(side);
        }

        @Override
        public void clientEndedDuringSetUp() {
            // Before its proxy request was complete: refused.
            boolean refused = front != null && front.clientEnded();
            if (!refused && state != TunnelState.CONNECTING) {
                // The client left before its handshakes finished: nothing to hand on.
                Tunnel.this.close();
            }
            // While connecting, open() forwards the held bytes and then ends the egress direction.
        }

        @Override
        public void close() {
            Tunnel.this.close();
        }
    }
}
