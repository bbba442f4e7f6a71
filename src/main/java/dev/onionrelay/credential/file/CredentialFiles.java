package dev.onionrelay.credential.file;

import java.nio.file.Path;
import org.jspecify.annotations.Nullable;

/**
 * A credential loaded from files (mounted Kubernetes Secrets, {@code onion.credentials.<name>.*}): a certificate chain
 * and, for an identity, its private key. Reloaded when the files change.
 */
public record CredentialFiles(
        Path certificateFile, @Nullable Path privateKeyFile) {}
