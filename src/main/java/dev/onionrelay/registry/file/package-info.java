/**
 * The JSON-file relay store of a single instance, with a schema version in every file. Spring-free.
 */
@NullMarked
package dev.onionrelay.registry.file;

import org.jspecify.annotations.NullMarked;
