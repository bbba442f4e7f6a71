/**
 * How the TCP connection reaches the target before the first egress layer: CONNECT through a plain HTTP proxy or
 * inside a layer, and the PROXY protocol header. Pure Netty, testable without a relay.
 */
@NullMarked
package dev.onionrelay.relay.upstream;

import org.jspecify.annotations.NullMarked;
