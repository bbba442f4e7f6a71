/**
 * The relay registry and its domain rules: create, change, push, pop and delete, with one reason for each refusal;
 * request mapping and defaults, policy and limits, and the {@link dev.onionrelay.registry.RelayStore} interface.
 * The API and declared relays both go through it, so they cannot disagree. Spring-free.
 */
@NullMarked
package dev.onionrelay.registry;

import org.jspecify.annotations.NullMarked;
