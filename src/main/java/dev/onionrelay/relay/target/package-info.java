/**
 * Where a tunnel connects: the target model, the selector that checks fixed targets and proxy destinations against
 * policy and DNS at every connect, and the balancing of several targets. Spring-free.
 */
@NullMarked
package dev.onionrelay.relay.target;

import org.jspecify.annotations.NullMarked;
