/**
 * Wiring only: typed {@code @ConfigurationProperties}, the beans that put the engine, stores and fleet together, and
 * the lifecycle bean that opens relays when the application starts. Stores and the target selector are replaceable
 * beans.
 */
@NullMarked
package dev.onionrelay.boot;

import org.jspecify.annotations.NullMarked;
