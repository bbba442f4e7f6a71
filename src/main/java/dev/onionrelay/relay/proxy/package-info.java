/**
 * The CONNECT and SOCKS5 requests a proxy exit reads inside its innermost ingress layer, and their answers.
 * Spring-free.
 */
@NullMarked
package dev.onionrelay.relay.proxy;

import org.jspecify.annotations.NullMarked;
