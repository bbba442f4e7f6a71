/**
 * The instances of a fleet and the calls between them: who is a live member (a lease renewed in the shared store, on
 * the database's clock) and how one instance asks the others about their relays and tunnels. Spring-free like the
 * engine; {@code boot} wires it.
 */
@NullMarked
package dev.onionrelay.fleet;

import org.jspecify.annotations.NullMarked;
