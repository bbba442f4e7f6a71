/**
 * Peer authorization of a layer ({@code allow}): which identities, among the peers whose chain the layer's trust
 * accepts, may connect. {@link dev.onionrelay.layer.allow.PeerPolicy} checks and compiles the spec once;
 * {@link dev.onionrelay.layer.allow.AllowingTrustManager} applies it in each handshake and refuses with
 * {@code access_denied}.
 */
@NullMarked
package dev.onionrelay.layer.allow;

import org.jspecify.annotations.NullMarked;
