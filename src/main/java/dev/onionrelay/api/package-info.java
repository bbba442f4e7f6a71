/**
 * The REST API: controllers and request/response mapping to HTTP only, and problem+json for every error. Domain
 * rules live in {@code registry} and {@code credential}; a controller only translates.
 */
@NullMarked
package dev.onionrelay.api;

import org.jspecify.annotations.NullMarked;
