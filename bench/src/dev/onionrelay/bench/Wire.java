package dev.onionrelay.bench;

/** The little protocol between the load generator and the {@link Sink}, carried through every tunnel. */
final class Wire {

    /** Operation byte, then the length as a big-endian long. */
    static final int HEADER_BYTES = 9;

    /** After a sink: the byte count (long) and the SHA-256 of the bytes. */
    static final int ANSWER_BYTES = 8 + 32;

    static final byte SINK = 'S';
    static final byte ECHO = 'E';

    private Wire() {}
}
