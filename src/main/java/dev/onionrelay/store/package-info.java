/**
 * The shared store of a fleet: relays and credentials in a database that every instance reads, private keys sealed
 * under a key-encryption key. Spring-free like the engine; {@code boot} wires it when {@code onion.store.type} is
 * {@code postgres}.
 */
@NullMarked
package dev.onionrelay.store;

import org.jspecify.annotations.NullMarked;
