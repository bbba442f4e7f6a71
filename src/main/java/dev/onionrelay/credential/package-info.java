/**
 * Credentials: certificates (trust) and certificate-plus-key pairs (identity) that relay layers
 * present or verify against; PEM import, a development CA, and the persisted registry.
 *
 * <p>Plain Java on purpose: Spring wires {@link dev.onionrelay.credential.CredentialStore} elsewhere.
 */
@NullMarked
package dev.onionrelay.credential;

import org.jspecify.annotations.NullMarked;
