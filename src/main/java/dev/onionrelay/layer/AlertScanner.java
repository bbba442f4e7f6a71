package dev.onionrelay.layer;

import io.netty.buffer.ByteBuf;

/**
 * Follows the TLS record boundaries of one direction of one layer and remembers the last alert it could read, that is
 * an alert sent in the clear (before the handshake keys are in use). Bytes are only looked at, never consumed.
 *
 * <p>This is how a failed handshake learns what was really said on the wire when the engine cannot tell: a TLS 1.3
 * client that rejects our certificate (curl, {@code openssl s_client}, Python) sends its alert in the clear while our
 * engine already expects encrypted records, so the JDK fails with an AEAD error and BoringSSL with BAD_PACKET_LENGTH;
 * and an engine that refuses a ClientHello says why in its own words but puts the alert's number on the wire.
 */
final class AlertScanner {

    /** No alert seen. */
    static final int NONE = -1;

    private static final int HEADER = 5;
    private static final int ALERT = 21;

    private final byte[] header = new byte[HEADER];
    private int headerFill;
    private int bodyLeft;
    private boolean alertRecord;
    private int alertByte;
    private int level = NONE;
    private int pendingLevel;
    private boolean lost;
    private int lastAlert = NONE;

    /** Looks at {@code bytes} (from its reader index) as the next bytes of the stream. */
    void scan(ByteBuf bytes) {
        int at = bytes.readerIndex();
        int end = bytes.writerIndex();
        while (at < end && !lost) {
            if (bodyLeft == 0) {
                header[headerFill++] = bytes.getByte(at++);
                if (headerFill == HEADER) {
                    headerFill = 0;
                    startRecord();
                }
                continue;
            }
            if (alertRecord) {
                int value = bytes.getByte(at++) & 0xff;
                bodyLeft--;
                if (alertByte++ == 0) {
                    pendingLevel = value;
                } else {
                    level = pendingLevel;
                    lastAlert = value;
                }
                continue;
            }
            int skip = Math.min(bodyLeft, end - at);
            at += skip;
            bodyLeft -= skip;
        }
    }

    private void startRecord() {
        int type = header[0] & 0xff;
        int length = ((header[3] & 0xff) << 8) | (header[4] & 0xff);
        if (type < 20 || type > 24 || (header[1] & 0xff) != 3 || length == 0) {
            // Not a TLS record (plaintext, SSLv2): nothing more to follow on this stream.
            lost = true;
            return;
        }
        bodyLeft = length;
        // An alert in the clear is two bytes, level and description; an encrypted one is longer.
        alertRecord = type == ALERT && length == 2;
        alertByte = 0;
    }

    /** The description of the last alert read in the clear, or {@link #NONE}. */
    int lastAlert() {
        return lastAlert;
    }

    /** Whether the last alert read was fatal (level 2); close_notify and other warnings are level 1. */
    boolean lastAlertFatal() {
        return level == 2;
    }
}
