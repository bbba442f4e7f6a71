/**
 * The stack semantics: everything about TLS layers on one connection and nothing about relays.
 * {@link dev.onionrelay.layer.LayerStack} keeps the rules of push, pop and close_notify in one place (docs/STACK.md);
 * layer specs, their defaults and typed profiles, TLS contexts per provider, and the few reaches into Netty's OpenSSL
 * engine that keep half-close (docs/NETTY-INTERNALS.md). Spring-free.
 */
@NullMarked
package dev.onionrelay.layer;

import org.jspecify.annotations.NullMarked;
