/**
 * The demo profile's three-hop onion, built through the registry like relays created over the API.
 */
@NullMarked
package dev.onionrelay.demo;

import org.jspecify.annotations.NullMarked;
