package dev.onionrelay.registry;

import dev.onionrelay.relay.RelaySpec;
import java.time.Instant;

/** What is persisted of an API-created relay: enough to open it again with the same id and port. */
public record StoredRelay(String id, Instant createdAt, RelaySpec spec) {}
