/**
 * The shared store on PostgreSQL, in plain JDBC: relays, credentials (private keys sealed), the change feed
 * (LISTEN/NOTIFY plus a periodic full read) and fleet-wide settings. Schema by Flyway, {@code db/migration}.
 */
@NullMarked
package dev.onionrelay.store.postgres;

import org.jspecify.annotations.NullMarked;
