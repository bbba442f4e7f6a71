package dev.onionrelay.relay;

import dev.onionrelay.layer.PreparedLayer;
import dev.onionrelay.layer.ProviderChoice;
import dev.onionrelay.layer.TlsProvider;
import dev.onionrelay.relay.target.FixedTargetSelector;
import dev.onionrelay.relay.target.TargetSelector;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.AdaptiveRecvByteBufAllocator;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.RecvByteBufAllocator;
import io.netty.channel.WriteBufferWaterMark;
import io.netty.util.NetUtil;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.jspecify.annotations.Nullable;

/**
 * The Netty side of the service: event loops, the transport, and relays opened on them. No registry, no policy, no
 * persistence: {@link RelayRegistry} adds those.
 */
public final class OnionEngine implements AutoCloseable {

    /**
     * Per-channel outbound buffer: above 96 KiB the other side of the tunnel stops reading (backpressure), below 48 KiB
     * it reads again. With reads sized to the room left under the high mark ({@link TunnelReads}), one direction of a
     * tunnel queues at most the high mark plus {@link TunnelReads#MIN_READ}, and its TLS decoders keep at most the
     * unfinished record of the last read (whose buffer is at most 96 KiB): under 256 KiB of user-space buffer per
     * direction beyond the kernel's (issue 22; docs/BENCHMARKS.md, "Slow readers"). Was 64/256 KiB with reads of up to
     * 256 KiB beyond the mark: about 760 KiB per stalled depth-2 tunnel and relay. 128 KiB measured 600-625 KiB per
     * stalled depth-2 tunnel for its two relays together (the TLS engines' own buffers come on top), at the bound.
     */
    static final WriteBufferWaterMark WATER_MARK = new WriteBufferWaterMark(48 * 1024, 96 * 1024);

    /**
     * Most bytes the adaptive read size grows to; a read never takes more than the room left under the high mark
     * ({@link TunnelReads}), so a flowing stream reads up to 96 KiB at a time. Larger reads cost less CPU per GB (each
     * read is one trip through the pipeline and the TLS handlers, and one writev on the other side): 256 KiB reads, with
     * a 256 KiB mark, were 9% cheaper per GB than 64 KiB at depth 1 (docs/BENCHMARKS.md).
     */
    static final int MAX_READ = 128 * 1024;

    /**
     * Read sizes of a tunnel channel until its tunnel says where its bytes go ({@link Relay} then installs {@link
     * TunnelReads} on the client's connection, the tunnel on the target's): adaptive up to {@link #MAX_READ}.
     */
    static final RecvByteBufAllocator READS = new AdaptiveRecvByteBufAllocator(512, 16 * 1024, MAX_READ);

    private final Transport transport;
    private final ProviderChoice provider;
    private final EventLoopGroup acceptors;
    private final EventLoopGroup workers;
    private final RelayObserver observer;
    private final Settings settings;
    private final AtomicInteger openTunnels = new AtomicInteger();
    private final DescriptorExhaustion descriptorExhaustion = new DescriptorExhaustion();
    private final DirectMemoryLimit directMemory;

    /**
     * Engine-wide settings.
     *
     * @param maxTunnels tunnels admitted at once over all relays (see {@link Admission}); more are closed
     * @param setupTimeout how long a tunnel may take from accept to open (all handshakes and the connect)
     * @param targets where each tunnel connects; checks target addresses at connect time
     * @param targetDownFor how long one of several fixed targets that could not be reached is tried after the others
     * @param bindHost where every relay of this engine listens instead of its spec's host (one instance of a fleet
     *     serving the relays on its own address); null to listen on the spec's host
     * @param admission how connections not yet admitted are kept apart from tunnels, and the direct memory limit
     */
    public record Settings(
            int maxTunnels,
            Duration setupTimeout,
            TargetSelector targets,
            Duration targetDownFor,
            @Nullable String bindHost,
            AdmissionLimits admission) {
        public static final Duration DEFAULT_TARGET_DOWN_FOR = Duration.ofSeconds(10);
        public static final Settings DEFAULTS =
                new Settings(100_000, Duration.ofSeconds(30), FixedTargetSelector.unchecked());

        public Settings(int maxTunnels, Duration setupTimeout, TargetSelector targets) {
            this(maxTunnels, setupTimeout, targets, DEFAULT_TARGET_DOWN_FOR, null);
        }

        public Settings(
                int maxTunnels,
                Duration setupTimeout,
                TargetSelector targets,
                Duration targetDownFor,
                @Nullable String bindHost) {
            this(maxTunnels, setupTimeout, targets, targetDownFor, bindHost, AdmissionLimits.DEFAULTS);
        }

        /** The same settings with other admission limits. */
        public Settings withAdmission(AdmissionLimits limits) {
            return new Settings(maxTunnels, setupTimeout, targets, targetDownFor, bindHost, limits);
        }
    }

    /**
     * @param workerThreads event loop threads for tunnels (0: Netty's default, two per core)
     */
    public OnionEngine(Transport transport, int workerThreads, TlsProvider provider, RelayObserver observer) {
        this(transport, workerThreads, ProviderChoice.of(provider), observer, Settings.DEFAULTS);
    }

    /**
     * @param provider the engine layers run on, as configured; each layer's own is in its {@code PreparedLayer}
     */
    public OnionEngine(
            Transport transport,
            int workerThreads,
            ProviderChoice provider,
            RelayObserver observer,
            Settings settings) {
        this.settings = settings;
        this.transport = transport;
        this.provider = provider;
        this.observer = observer;
        this.acceptors = transport.newGroup(1, "onion-accept");
        this.workers = transport.newGroup(workerThreads, "onion-io");
        this.directMemory = new DirectMemoryLimit(settings.admission().maxDirectMemory());
    }

    public Transport transport() {
        return transport;
    }

    /** The configured provider choice ({@code onion.tls.provider}); layers show the engine each one runs on. */
    public ProviderChoice provider() {
        return provider;
    }

    public Settings settings() {
        return settings;
    }

    /** Tunnels open over all relays. */
    public int openTunnels() {
        return openTunnels.get();
    }

    /** Takes one tunnel from the engine-wide allowance; false when it is used up. */
    boolean tryOpenTunnel() {
        return Admission.takeSlot(openTunnels, settings.maxTunnels());
    }

    void tunnelEnded() {
        openTunnels.decrementAndGet();
    }

    /** When and how often the process ran out of file descriptors. */
    public DescriptorExhaustion descriptorExhaustion() {
        return descriptorExhaustion;
    }

    /** The process-wide cap on the direct memory tunnels use. */
    public DirectMemoryLimit directMemory() {
        return directMemory;
    }

    /**
     * Binds a relay's listener. On success the relay is {@link RelayState#LISTENING} with its bound port in its spec.
     *
     * @throws IOException when the address cannot be bound (port in use, address not local)
     */
    public Relay open(
            String id, RelaySpec spec, List<PreparedLayer> ingress, List<PreparedLayer> egress, Instant createdAt)
            throws IOException {
        Relay relay = new Relay(id, spec, ingress, egress, createdAt, observer, this);
        bind(relay);
        return relay;
    }

    /**
     * Binds the listener of a relay that is {@link RelayState#FAILED} again, with freshly prepared layers: the same
     * relay (id, stats, meters) becomes {@link RelayState#LISTENING}. On failure it stays FAILED.
     *
     * @throws IOException when the address cannot be bound
     */
    public void reopen(Relay relay, List<PreparedLayer> ingress, List<PreparedLayer> egress) throws IOException {
        if (relay.state() != RelayState.FAILED) {
            throw new IllegalStateException(relay + " is not FAILED");
        }
        relay.layers(ingress, egress);
        bind(relay);
    }

    private void bind(Relay relay) throws IOException {
        Channel channel = listen(relay, listenAddress(relay.spec()));
        relay.listening(channel, ((InetSocketAddress) channel.localAddress()).getPort());
    }

    /**
     * Binds a second listener for a listening relay whose replacement listens elsewhere ({@link Relay#replace} takes it
     * over and closes the old one), so that the relay accepts on one address or the other at every moment.
     *
     * @throws IOException when the address cannot be bound; the relay keeps its listener
     */
    public Channel listenAlso(Relay relay, RelaySpec replacement) throws IOException {
        return listen(relay, listenAddress(replacement));
    }

    private Channel listen(Relay relay, Endpoint address) throws IOException {
        ServerBootstrap bootstrap = new ServerBootstrap()
                .group(acceptors, workers)
                .channel(transport.serverChannel())
                // The system's limit (somaxconn), as Netty's default: a flood of connections that the acceptor
                // has not taken yet must not fill the accept queue, or the kernel drops the SYNs and final ACKs
                // of real clients, which then wait out TCP's retransmission back-off (seconds, not milliseconds).
                .option(ChannelOption.SO_BACKLOG, NetUtil.SOMAXCONN)
                .option(ChannelOption.SO_REUSEADDR, true)
                .handler(new AcceptFailures(relay, descriptorExhaustion))
                .childOption(ChannelOption.ALLOW_HALF_CLOSURE, true)
                .childOption(ChannelOption.TCP_NODELAY, true)
                .childOption(ChannelOption.WRITE_BUFFER_WATER_MARK, WATER_MARK)
                .childOption(ChannelOption.RCVBUF_ALLOCATOR, READS)
                .childHandler(new ChannelInitializer<>() {
                    @Override
                    protected void initChannel(Channel channel) {
                        relay.accepted(channel);
                    }
                });
        ChannelFuture bind = bootstrap.bind(address.host(), address.port());
        if (!bind.awaitUninterruptibly(10, TimeUnit.SECONDS)) {
            bind.cancel(false);
            throw new IOException("binding " + address + " timed out");
        }
        if (!bind.isSuccess()) {
            Throwable cause = bind.cause();
            if (cause instanceof IOException io) {
                throw io;
            }
            throw new IOException(cause.getMessage(), cause);
        }
        return bind.channel();
    }

    /**
     * Where this engine listens for a relay of that spec: the spec's own address, or the same port on the engine's
     * bind host when it has one (one instance of a fleet serving every relay on its own address).
     */
    public Endpoint listenAddress(RelaySpec spec) {
        String bindHost = settings.bindHost();
        return bindHost != null ? new Endpoint(bindHost, spec.listen().port()) : spec.listen();
    }

    /** A relay that could not be opened, kept so that status can say why. */
    public Relay failed(String id, RelaySpec spec, Instant createdAt, String why) {
        Relay relay = new Relay(id, spec, List.of(), List.of(), createdAt, observer, this);
        relay.failed(why);
        return relay;
    }

    @Override
    public void close() {
        acceptors.shutdownGracefully(0, 2, TimeUnit.SECONDS);
        workers.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
    }
}
