package dev.onionrelay.relay;

import java.time.Duration;

/**
 * How connections that have not proved anything yet are kept apart from established tunnels (see {@link Admission}).
 *
 * @param maxPendingPerRelay connections of one relay not yet admitted (their outermost ingress handshake, or for a
 *     relay without ingress layers their first byte, still to come); when full, the oldest is closed for a new one
 * @param maxPendingPerClient the same, per client address and relay
 * @param firstByteTimeout how long a client of a relay with ingress layers may take to send its first byte; shorter
 *     than a handshake timeout, so that silent connections go long before handshakes time out
 * @param maxDirectMemory direct memory (bytes, Netty's allocator) above which new connections are refused; 0 for none
 */
public record AdmissionLimits(
        int maxPendingPerRelay, int maxPendingPerClient, Duration firstByteTimeout, long maxDirectMemory) {

    public static final int DEFAULT_MAX_PENDING_PER_RELAY = 2048;
    public static final int DEFAULT_MAX_PENDING_PER_CLIENT = 1024;
    public static final Duration DEFAULT_FIRST_BYTE_TIMEOUT = Duration.ofSeconds(5);

    public static final AdmissionLimits DEFAULTS = new AdmissionLimits(
            DEFAULT_MAX_PENDING_PER_RELAY, DEFAULT_MAX_PENDING_PER_CLIENT, DEFAULT_FIRST_BYTE_TIMEOUT, 0);

    public AdmissionLimits {
        if (maxPendingPerRelay < 1 || maxPendingPerClient < 1) {
            throw new IllegalArgumentException("pending connection limits must be at least 1");
        }
        if (firstByteTimeout.isNegative() || firstByteTimeout.isZero()) {
            throw new IllegalArgumentException("the first-byte timeout must be positive");
        }
        if (maxDirectMemory < 0) {
            throw new IllegalArgumentException("the direct memory limit must not be negative");
        }
    }
}
