/**
 * The engine that moves bytes: listeners, tunnels ({@link dev.onionrelay.relay.Tunnel}) and their roles, each in its
 * own class: admission, the proxy front, the target dialer, the splice between a tunnel's two sockets with its
 * backpressure, the ending of each direction; and the observer events the rest of the service listens to. No
 * registry, policy or persistence here, so it can be driven and tested with plain sockets. Spring-free.
 */
@NullMarked
package dev.onionrelay.relay;

import org.jspecify.annotations.NullMarked;
