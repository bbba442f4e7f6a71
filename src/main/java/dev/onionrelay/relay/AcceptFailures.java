package dev.onionrelay.relay;

import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import java.io.IOException;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

/**
 * On a relay's listening channel: an accept that fails because no file descriptor is left (EMFILE) is counted and
 * logged (at most every {@link #LOG_EVERY}), and accepting pauses for {@link #PAUSE}, then resumes by itself. The
 * connection stays in the kernel's backlog meanwhile, so the selector would report it again at once: without the
 * pause the accept loop spins. Netty's own acceptor pauses a whole second and logs each failure at the pipeline's
 * tail; this handler stands in front of it and keeps the pause short, so that accepting resumes soon after
 * descriptors return.
 */
final class AcceptFailures extends ChannelInboundHandlerAdapter {

    static final Duration PAUSE = Duration.ofMillis(100);
    static final Duration LOG_EVERY = Duration.ofSeconds(10);

    private static final System.Logger LOG = System.getLogger(AcceptFailures.class.getName());

    private final Relay relay;
    private final DescriptorExhaustion exhaustion;
    private long loggedAt = System.nanoTime() - LOG_EVERY.toNanos();

    AcceptFailures(Relay relay, DescriptorExhaustion exhaustion) {
        this.relay = relay;
        this.exhaustion = exhaustion;
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        if (!(cause instanceof IOException)) {
            ctx.fireExceptionCaught(cause);
            return;
        }
        boolean noDescriptors = DescriptorExhaustion.isExhaustion(cause);
        if (noDescriptors) {
            exhaustion.record(DescriptorExhaustion.Where.ACCEPT);
        }
        long now = System.nanoTime();
        if (now - loggedAt >= LOG_EVERY.toNanos()) {
            loggedAt = now;
            LOG.log(
                    System.Logger.Level.WARNING,
                    "relay {0} cannot accept connections{1}: {2}; retrying every {3} ms",
                    relay.spec().name(),
                    noDescriptors ? " (no file descriptor left)" : "",
                    cause.getMessage(),
                    PAUSE.toMillis());
        }
        ctx.channel().config().setAutoRead(false);
        ctx.executor()
                .schedule(
                        () -> {
                            if (ctx.channel().isOpen()) {
                                ctx.channel().config().setAutoRead(true);
                            }
                        },
                        PAUSE.toMillis(),
                        TimeUnit.MILLISECONDS);
    }
}
