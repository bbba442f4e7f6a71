/**
 * Credentials mounted as files (Kubernetes Secrets), loaded at start and reloaded when the files change. Spring-free.
 */
@NullMarked
package dev.onionrelay.credential.file;

import org.jspecify.annotations.NullMarked;
