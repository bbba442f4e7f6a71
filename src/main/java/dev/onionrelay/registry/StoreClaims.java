package dev.onionrelay.registry;

import dev.onionrelay.layer.PreparedLayer;
import dev.onionrelay.relay.OnionEngine;
import dev.onionrelay.relay.Relay;
import dev.onionrelay.relay.RelaySpec;
import java.time.Instant;
import java.util.List;

/**
 * How a create writes its relay to the store and binds its listener, in the order that keeps a fleet's races clean.
 *
 * <p>A fixed port is claimed in the store first: there the fleet's rules (one relay per name, one per port, kept by
 * the database) pick one winner among creates that reach different instances at once, and a loser never binds the port
 * that the winner's relay is about to open on the loser's instance too (it used to, for a moment, and the store sync
 * there found the port taken: the winner's relay was FAILED on that instance until its retry). A bind that fails after
 * the claim takes the claim back. A relay on a random port (0) binds first, since the store keeps the port it got.
 */
final class StoreClaims {

    private static final System.Logger LOG = System.getLogger(RelayRegistry.class.getName());

    private final RelayStore store;
    private final RelayOpener opener;
    private final OnionEngine engine;

    StoreClaims(RelayStore store, RelayOpener opener, OnionEngine engine) {
        this.store = store;
        this.opener = opener;
        this.engine = engine;
    }

    /**
     * @param nameTheHolder see {@link RelayOpener#bindNamingTheHolder}
     * @param unclaimed called once a claim was taken back (a store write this instance made)
     * @return the relay, listening and stored; on any failure nothing of it stays, in the store or bound
     */
    Relay claimAndBind(
            String id,
            RelaySpec spec,
            List<PreparedLayer> ingress,
            List<PreparedLayer> egress,
            Instant createdAt,
            Runnable nameTheHolder,
            Runnable unclaimed) {
        boolean claimed = spec.listen().port() != 0;
        if (claimed) {
            store.save(new StoredRelay(id, createdAt, spec));
        }
        Relay bound = null;
        try {
            bound = opener.bindNamingTheHolder(id, spec, ingress, egress, createdAt, nameTheHolder);
            if (!claimed) {
                store.save(new StoredRelay(id, createdAt, bound.spec())); // with the port it got
            }
            LOG.log(
                    System.Logger.Level.INFO,
                    "relay {0} ({1}) listening on {2}, target {3}, depth {4}/{5}",
                    spec.name(),
                    id,
                    engine.listenAddress(bound.spec()),
                    spec.target(),
                    spec.ingress().size(),
                    spec.egress().size());
            return bound;
        } catch (RuntimeException e) {
            if (bound != null) {
                bound.stop();
            }
            if (claimed) {
                unclaim(id);
                unclaimed.run();
            }
            throw e;
        }
    }

    private void unclaim(String id) {
        try {
            store.delete(id);
        } catch (RuntimeException e) {
            LOG.log(System.Logger.Level.WARNING, "relay {0} stays in the store after its bind failed: {1}", id, e);
        }
    }
}
