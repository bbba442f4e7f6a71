package dev.onionrelay.registry;

import dev.onionrelay.relay.RelaySpec;
import java.time.Instant;

/**
 * What is persisted of an API-created relay: enough to open it again with the same id, port and revision.
 *
 * @param revision 1 when created, one more with every replacement ({@code PUT /relays/{id}})
 */
public record StoredRelay(String id, Instant createdAt, RelaySpec spec, long revision) {

    public StoredRelay {
        revision = Math.max(revision, 1); // absent (0) in relays stored before revisions existed
    }

    /** A relay as created: revision 1. */
    public StoredRelay(String id, Instant createdAt, RelaySpec spec) {
        this(id, createdAt, spec, 1);
    }
}
