package dev.onionrelay.layer;

/**
 * How much plaintext each layer puts in one TLS record, from its engine, its protocol and the size of the layer
 * outside it: pure arithmetic, apart from the stack so that the measured numbers it rests on can be tested without a
 * handshake. {@link LayerStack} reads a layer's session and applies the result (see {@code LayerStack.alignRecords}).
 *
 * <p>The aim is that one record of a layer fills exactly one record of the layer outside it (the outermost fills a full
 * record on the wire). Netty's handler wraps {@code wrapDataSize} bytes at a time from its queue of inner records: when
 * an inner record is a few bytes short of that, every outer record also takes the head of the next inner one, and
 * Netty copies both into a new buffer (copyAndCompose), record after record; the receiver in turn reassembles every
 * inner record from two outer ones.
 */
final class RecordSizing {

    /** Record overhead assumed until a layer's protocol is known: more than any AEAD suite adds. */
    static final int RECORD_OVERHEAD_PER_LAYER = 64;

    static final int MAX_PLAINTEXT = 16 * 1024;

    /** Floor for a layer's plaintext per record, so that a deep stack still carries useful records. */
    static final int MIN_WRAP_DATA_SIZE = 1024;

    /**
     * Most plaintext the JDK engine (17) puts in one TLS 1.3 record: 2^14 less the 17 bytes of the inner content type
     * and the tag, measured. Given 16,384 bytes it writes 16,367 and leaves 17, which Netty then joins to the next
     * chunk by copying both into a new buffer, for every record.
     */
    static final int JDK_TLS13_MAX_PLAINTEXT = MAX_PLAINTEXT - 17;

    private RecordSizing() {}

    /**
     * The size a layer pushed on top of {@code depth} layers starts with, before its protocol is known. Only its
     * handshake messages use it: application data is wrapped only after the handshake, when the size is final.
     */
    static int provisional(int depth) {
        return Math.max(MIN_WRAP_DATA_SIZE, MAX_PLAINTEXT - RECORD_OVERHEAD_PER_LAYER * depth);
    }

    /** The final size of the outermost layer: a full record on the wire. */
    static int outermost(TlsProvider provider, String protocol) {
        return Math.max(MIN_WRAP_DATA_SIZE, maxPlaintext(provider, protocol));
    }

    /**
     * The final size of a layer inside one that puts {@code outsideWrapDataSize} bytes of plaintext in each record: one
     * record of this layer, overhead included, fills one record of the layer outside.
     */
    static int inside(TlsProvider provider, String protocol, String cipherSuite, int outsideWrapDataSize) {
        int size = Math.min(
                maxPlaintext(provider, protocol),
                outsideWrapDataSize - recordOverhead(provider, protocol, cipherSuite));
        return Math.max(MIN_WRAP_DATA_SIZE, size);
    }

    /** Most plaintext one record of {@code protocol} takes; offering more only leaves a remainder to re-queue. */
    static int maxPlaintext(TlsProvider provider, String protocol) {
        return provider == TlsProvider.JDK && "TLSv1.3".equals(protocol) ? JDK_TLS13_MAX_PLAINTEXT : MAX_PLAINTEXT;
    }

    /**
     * Bytes one record adds to its plaintext: a 5-byte header and a 16-byte AEAD tag, plus the inner content type in
     * TLS 1.3 or the explicit nonce of TLS 1.2 AES-GCM. The JDK engine (17) adds 16 more to each TLS 1.3 record, with
     * every suite (measured: 1 byte of plaintext makes a record of 39, 16,320 bytes one of 16,358). Other suites get
     * the provisional allowance: their inner records then fall short of the outer size, which costs copies but is safe.
     */
    static int recordOverhead(TlsProvider provider, String protocol, String cipherSuite) {
        if ("TLSv1.3".equals(protocol)) {
            return provider == TlsProvider.JDK ? 5 + 1 + 16 + 16 : 5 + 1 + 16;
        }
        if ("TLSv1.2".equals(protocol) && cipherSuite.contains("_GCM_")) {
            return 5 + 8 + 16;
        }
        if ("TLSv1.2".equals(protocol) && cipherSuite.contains("CHACHA20")) {
            return 5 + 16;
        }
        return RECORD_OVERHEAD_PER_LAYER;
    }
}
