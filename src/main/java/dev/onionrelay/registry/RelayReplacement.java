package dev.onionrelay.registry;

import dev.onionrelay.layer.PreparedLayer;
import dev.onionrelay.layer.Side;
import dev.onionrelay.relay.Endpoint;
import dev.onionrelay.relay.OnionEngine;
import dev.onionrelay.relay.Relay;
import dev.onionrelay.relay.RelayException;
import dev.onionrelay.relay.RelaySpec;
import dev.onionrelay.relay.RelayState;
import io.netty.channel.Channel;
import java.io.IOException;
import java.net.BindException;
import java.util.List;
import java.util.Optional;
import java.util.function.Consumer;
import org.jspecify.annotations.Nullable;

/**
 * Replacement of a relay's definition in place ({@code PUT /relays/{id}}): the same relay (id, stats, listener, open
 * tunnels) takes a new spec under its next revision. New tunnels follow the new definition at once; open tunnels keep
 * running on the one they were set up with (their layers live on their own pipelines).
 *
 * <p>All or nothing, in this order, each step undone when a later one fails: the new spec passes every rule a create
 * passes ({@link SpecRules}; its own name and port do not clash with itself); the credentials it names are held; its
 * TLS contexts are built; a changed listen address is bound beside the old one; the store takes the next revision only
 * while it still holds the one this replacement read ({@link RelayStore#replace}, kept by the database in a fleet).
 * Then the relay swaps to the new definition, and the old listener, if any, closes. A relay's name is its identity in
 * status and metrics, so a replacement keeps it; a listen port of 0 keeps the port the relay has.
 *
 * <p>Other instances of a fleet follow from the store ({@link #follow}): the same swap, without the rules (the
 * instance that wrote it checked them) and without a store write.
 */
final class RelayReplacement {

    private static final System.Logger LOG = System.getLogger(RelayRegistry.class.getName());

    private final SpecRules rules;
    private final RelayOpener opener;
    private final OnionEngine engine;
    private final RelayStore store;
    private final CredentialUse credentials;
    /** The registry's lock, under which {@link #clashes} are read. */
    private final Object lock;

    private final SpecRules.Running clashes;

    RelayReplacement(
            SpecRules rules,
            RelayOpener opener,
            OnionEngine engine,
            RelayStore store,
            CredentialUse credentials,
            Object lock,
            SpecRules.Running clashes) {
        this.rules = rules;
        this.opener = opener;
        this.engine = engine;
        this.store = store;
        this.credentials = credentials;
        this.lock = lock;
        this.clashes = clashes;
    }

    /**
     * Replaces {@code relay}'s definition with {@code requested}, written to the store as the next revision.
     *
     * @param stored called with the relay's id once the store took the write (the registry's record of its writes)
     * @throws RelayException naming the field at fault (INVALID, FORBIDDEN, LIMIT, CONFLICT); nothing changed then
     */
    Relay replace(Relay relay, RelaySpec requested, java.time.Instant createdAt, Consumer<String> stored) {
        RelaySpec spec = keepingPort(relay, requested);
        synchronized (lock) {
            rules.validate(spec, excluding(relay));
        }
        long next = relay.revision() + 1;
        String pending = relay.id() + "#revision-" + next;
        credentials.hold(pending, spec);
        Channel newListener = null;
        try {
            List<PreparedLayer> ingress = opener.prepare(Side.INGRESS, spec);
            List<PreparedLayer> egress = opener.prepare(Side.EGRESS, spec);
            newListener = listenerFor(relay, spec);
            RelaySpec pinned = newListener != null ? spec.withListenPort(boundPort(newListener)) : spec;
            store.replace(new StoredRelay(relay.id(), createdAt, pinned, next));
            stored.accept(relay.id());
            swap(relay, pinned, ingress, egress, next, newListener);
            newListener = null;
        } catch (RuntimeException e) {
            credentials.release(pending);
            if (newListener != null) {
                newListener.close().syncUninterruptibly();
            }
            throw e;
        }
        LOG.log(
                System.Logger.Level.INFO,
                "relay {0} ({1}) replaced: revision {2}, listening on {3}, target {4}, depth {5}/{6}",
                spec.name(),
                relay.id(),
                next,
                engine.listenAddress(relay.spec()),
                spec.target(),
                spec.ingress().size(),
                spec.egress().size());
        return relay;
    }

    /**
     * Takes a replacement another instance stored: the same swap as {@link #replace}, without the rules or a store
     * write.
     *
     * @return false when it cannot be done in place (the relay is not listening, or its new contexts or listener cannot
     *     be had here); the caller then closes and opens it again
     */
    boolean follow(Relay relay, StoredRelay stored) {
        if (relay.state() != RelayState.LISTENING) {
            return false;
        }
        String pending = relay.id() + "#revision-" + stored.revision();
        credentials.hold(pending, stored.spec());
        Channel newListener = null;
        try {
            List<PreparedLayer> ingress = opener.prepare(Side.INGRESS, stored.spec());
            List<PreparedLayer> egress = opener.prepare(Side.EGRESS, stored.spec());
            newListener = listenerFor(relay, stored.spec());
            swap(relay, stored.spec(), ingress, egress, stored.revision(), newListener);
            return true;
        } catch (RuntimeException e) {
            credentials.release(pending);
            if (newListener != null) {
                newListener.close().syncUninterruptibly();
            }
            LOG.log(
                    System.Logger.Level.WARNING,
                    "relay {0} ({1}): revision {2} cannot be taken in place ({3}); opening it again",
                    stored.spec().name(),
                    relay.id(),
                    stored.revision(),
                    e.getMessage());
            return false;
        }
    }

    /** The swap itself: the relay's holds move to the new spec's names, then the relay takes the new definition. */
    private void swap(
            Relay relay,
            RelaySpec spec,
            List<PreparedLayer> ingress,
            List<PreparedLayer> egress,
            long revision,
            @Nullable Channel newListener) {
        // Held under the relay's id before the pending hold goes, so that no credential of either spec is ever free.
        credentials.release(relay.id());
        credentials.hold(relay.id(), spec);
        credentials.release(relay.id() + "#revision-" + revision);
        relay.replace(spec, ingress, egress, revision, newListener);
    }

    /** A listen port of 0 means "where it listens now": a replacement does not move a relay to a random port. */
    private static RelaySpec keepingPort(Relay relay, RelaySpec requested) {
        Endpoint listen = requested.listen();
        if (listen.port() == 0 && relay.spec().listen().port() != 0) {
            return requested.withListenPort(relay.spec().listen().port());
        }
        return requested;
    }

    /** A second listener when the relay is listening and the new spec listens elsewhere; null when the listener stays. */
    private @Nullable Channel listenerFor(Relay relay, RelaySpec spec) {
        if (relay.state() != RelayState.LISTENING
                || engine.listenAddress(spec).equals(engine.listenAddress(relay.spec()))) {
            return null;
        }
        try {
            return engine.listenAlso(relay, spec);
        } catch (BindException e) {
            throw new RelayException(
                    RelayException.Kind.CONFLICT,
                    "listen.port",
                    "cannot listen on " + engine.listenAddress(spec) + ": " + e.getMessage());
        } catch (IOException e) {
            throw new RelayException(
                    RelayException.Kind.INVALID,
                    "listen.host",
                    "cannot listen on " + engine.listenAddress(spec) + ": " + e.getMessage());
        }
    }

    private static int boundPort(Channel listener) {
        return ((java.net.InetSocketAddress) listener.localAddress()).getPort();
    }

    /** The registry's relays as the clash checks see them, but for {@code self}: its own name and port are no clash. */
    private SpecRules.Running excluding(Relay self) {
        return new SpecRules.Running() {
            @Override
            public SpecRules.NameUse nameUse(String name) {
                SpecRules.NameUse use = clashes.nameUse(name);
                return use == SpecRules.NameUse.TAKEN && name.equals(self.spec().name()) ? SpecRules.NameUse.FREE : use;
            }

            @Override
            public Optional<String> listeningOn(int port) {
                return port == self.spec().listen().port() ? Optional.empty() : clashes.listeningOn(port);
            }
        };
    }

    /** A replacement keeps the relay's name: the request may leave it out or send it, but not change it. */
    static RelayRequest keepingName(Relay relay, RelayRequest request) {
        String name = relay.spec().name();
        if (request.name() != null && !request.name().equals(name)) {
            throw InvalidRequestException.of(
                    "name", "a relay keeps its name ('" + name + "'); leave it out or send it");
        }
        return request.named(name);
    }
}
