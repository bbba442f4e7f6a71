/**
 * Bearer tokens, their configuration and comparison, and the request size limit of the API port.
 */
@NullMarked
package dev.onionrelay.api.security;

import org.jspecify.annotations.NullMarked;
