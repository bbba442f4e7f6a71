package dev.onionrelay.relay.target;

import dev.onionrelay.relay.Endpoint;
import io.netty.util.NetUtil;
import io.netty.util.concurrent.DefaultThreadFactory;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import org.jspecify.annotations.Nullable;

/**
 * The relay's configured target, checked again at every connect: an address literal was checked when the relay was
 * created and is used as it is; a name is resolved (off the event loops) and every address it resolves to is given to
 * the {@link AddressCheck}, and the tunnel connects to the address that was checked, so that a second lookup cannot
 * answer differently (no DNS rebinding). Without a check the transport resolves names itself, unchecked.
 */
public final class FixedTargetSelector implements TargetSelector, AutoCloseable {

    /** Chooses the address to connect to among what a name resolved to; empty when none may be used. */
    @FunctionalInterface
    public interface AddressCheck {
        Optional<InetAddress> choose(List<InetAddress> resolved);
    }

    /** Whether a destination a client asked for may be reached, before any lookup: its host (name or address) and port. */
    @FunctionalInterface
    public interface DestinationCheck {
        boolean allows(String host, int port);
    }

    private static final System.Logger LOG = System.getLogger(FixedTargetSelector.class.getName());

    private final @Nullable AddressCheck check;
    private final @Nullable DestinationCheck destinations;
    private final @Nullable ExecutorService resolver;

    /** @param check null: names are resolved by the transport, unchecked (engine tests) */
    public FixedTargetSelector(@Nullable AddressCheck check) {
        this(check, null);
    }

    /**
     * @param check null: names are resolved by the transport, unchecked (engine tests)
     * @param destinations checks the host and port a proxy-mode client asked for; null: only the addresses are checked
     */
    public FixedTargetSelector(@Nullable AddressCheck check, @Nullable DestinationCheck destinations) {
        this.check = check;
        this.destinations = destinations;
        // Name lookups block: they run here, never on an event loop.
        this.resolver =
                check != null ? Executors.newFixedThreadPool(2, new DefaultThreadFactory("onion-resolve", true)) : null;
    }

    /** No check: for engines without a policy. */
    public static FixedTargetSelector unchecked() {
        return new FixedTargetSelector(null);
    }

    @Override
    public Future<InetSocketAddress> select(Endpoint target, EventExecutor executor) {
        InetAddress literal = literal(target.host());
        if (literal != null) {
            return executor.newSucceededFuture(new InetSocketAddress(literal, target.port()));
        }
        return resolve(target, executor);
    }

    /**
     * A destination a client named: the host and port are checked first (a name against the name entries, an address
     * fully), then a name is resolved and checked like a configured one; an address is used as it is.
     */
    @Override
    public Future<InetSocketAddress> selectRequested(Endpoint requested, EventExecutor executor) {
        InetAddress literal = literal(requested.host());
        if (destinations != null && !allows(destinations, requested)) {
            return executor.newFailedFuture(
                    new TargetRefusedException("policy", "policy does not allow the destination " + requested));
        }
        if (literal != null) {
            if (check != null && choose(check, List.of(literal)).isEmpty()) {
                return executor.newFailedFuture(
                        new TargetRefusedException("policy", "policy does not allow the address " + requested));
            }
            return executor.newSucceededFuture(new InetSocketAddress(literal, requested.port()));
        }
        return resolve(requested, executor);
    }

    private Future<InetSocketAddress> resolve(Endpoint target, EventExecutor executor) {
        if (check == null || resolver == null) {
            return executor.newSucceededFuture(InetSocketAddress.createUnresolved(target.host(), target.port()));
        }
        Promise<InetSocketAddress> result = executor.newPromise();
        try {
            resolver.execute(() -> {
                List<InetAddress> addresses;
                try {
                    addresses = List.of(InetAddress.getAllByName(target.host()));
                } catch (UnknownHostException | RuntimeException e) {
                    result.tryFailure(new TargetRefusedException("unresolved", target.host() + ": " + e.getMessage()));
                    return;
                }
                Optional<InetAddress> allowed = choose(check, addresses);
                if (allowed.isEmpty()) {
                    // The name was allowed; what it resolves to now is not (rebinding, or a name for a denied address).
                    result.tryFailure(new TargetRefusedException(
                            "policy", target.host() + " resolves to " + addresses + ", which policy does not allow"));
                    return;
                }
                result.trySuccess(new InetSocketAddress(allowed.get(), target.port()));
            });
        } catch (RejectedExecutionException e) {
            result.tryFailure(new TargetRefusedException("unresolved", "the resolver is closed"));
        }
        return result;
    }

    /**
     * The check's choice. A check that throws (a policy entry it cannot read, such as a malformed CIDR block) allows
     * nothing: the target is refused at once instead of leaving the tunnel waiting for a result that never comes.
     */
    private static Optional<InetAddress> choose(AddressCheck check, List<InetAddress> addresses) {
        try {
            return check.choose(addresses);
        } catch (RuntimeException e) {
            LOG.log(System.Logger.Level.WARNING, "the target address check failed on {0}, refusing: {1}", addresses, e);
            return Optional.empty();
        }
    }

    /** As {@link #choose}: a destination check that throws allows nothing. */
    private static boolean allows(DestinationCheck destinations, Endpoint requested) {
        try {
            return destinations.allows(requested.host(), requested.port());
        } catch (RuntimeException e) {
            LOG.log(System.Logger.Level.WARNING, "the destination check failed on {0}, refusing: {1}", requested, e);
            return false;
        }
    }

    /** Parses an IP literal without any DNS lookup; null for host names. */
    public static @Nullable InetAddress literal(String host) {
        String h = host.startsWith("[") && host.endsWith("]") ? host.substring(1, host.length() - 1) : host;
        // Checked without a regular expression (this runs for every tunnel) and without DNS: getByName looks a string
        // up only when it is not a valid literal, and only valid literals reach it.
        if (!NetUtil.isValidIpV4Address(h) && !NetUtil.isValidIpV6Address(h)) {
            return null;
        }
        try {
            return InetAddress.getByName(h);
        } catch (UnknownHostException e) {
            return null;
        }
    }

    @Override
    public void close() {
        if (resolver != null) {
            resolver.shutdownNow();
        }
    }
}
