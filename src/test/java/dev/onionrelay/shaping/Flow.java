package dev.onionrelay.shaping;

import dev.onionrelay.support.TlsRecordTap.Direction;
import dev.onionrelay.support.TlsRecordTap.Record;
import java.util.ArrayList;
import java.util.List;

/**
 * What a passive observer extracts from one TLS connection after its (outer) handshake, the features of Xue et al.
 * (USENIX Security 2024) and of Trojan-killer: the connection cut into exchanges, each a client burst (the records the
 * client sends before the server answers) and the server burst that answers it.
 *
 * <p>The outer handshake ends with the client's Finished: its first record after its ChangeCipherSpec (TLS 1.2, and
 * TLS 1.3 in middlebox-compatibility mode, which every client here uses), or else its first application-data record.
 * Server records that arrive before the client's first record after that (TLS 1.3 session tickets, when they are quick)
 * count to the first exchange's server burst, so that the burst does not depend on who was faster.
 *
 * @param exchanges the exchanges after the handshake, in order
 * @param records every record the tap saw, for printing
 */
record Flow(List<Exchange> exchanges, List<Record> records) {

    /**
     * One client burst and the server burst after it.
     *
     * @param firstClientRecord the wire length of the burst's first client record (an inner ClientHello, in a tunnel)
     * @param clientBytes the client burst's bytes on the wire
     * @param serverBytes the server burst's bytes on the wire
     * @param answerNanos the time from the burst's first client record to the first server record after it (-1 when
     *     the server did not answer)
     */
    record Exchange(int firstClientRecord, long clientBytes, long serverBytes, long answerNanos) {
        @Override
        public String toString() {
            return "(" + firstClientRecord + "," + clientBytes + "," + serverBytes + ")";
        }
    }

    static final int CHANGE_CIPHER_SPEC = 20;
    static final int APPLICATION_DATA = 23;

    static Flow of(List<Record> records) {
        int end = handshakeEnd(records);
        List<Exchange> exchanges = new ArrayList<>();
        long leadingServerBytes = 0;
        int at = end + 1;
        // Server records before the client's first post-handshake record join the first exchange's server burst.
        while (at < records.size() && records.get(at).direction() == Direction.SERVER) {
            leadingServerBytes += records.get(at).wireLength();
            at++;
        }
        while (at < records.size()) {
            Record first = records.get(at);
            long clientBytes = 0;
            while (at < records.size() && records.get(at).direction() == Direction.CLIENT) {
                clientBytes += records.get(at).wireLength();
                at++;
            }
            long serverBytes = exchanges.isEmpty() ? leadingServerBytes : 0;
            long answerNanos = at < records.size() ? records.get(at).nanos() - first.nanos() : -1;
            while (at < records.size() && records.get(at).direction() == Direction.SERVER) {
                serverBytes += records.get(at).wireLength();
                at++;
            }
            exchanges.add(new Exchange(first.wireLength(), clientBytes, serverBytes, answerNanos));
        }
        return new Flow(List.copyOf(exchanges), records);
    }

    /** The index of the client's Finished, or the last record when the records show no complete handshake. */
    static int handshakeEnd(List<Record> records) {
        boolean clientChangedCipher = false;
        for (int i = 0; i < records.size(); i++) {
            Record record = records.get(i);
            if (record.direction() != Direction.CLIENT) {
                continue;
            }
            if (clientChangedCipher || record.contentType() == APPLICATION_DATA) {
                return i;
            }
            clientChangedCipher = record.contentType() == CHANGE_CIPHER_SPEC;
        }
        return records.size() - 1;
    }

    /** The first exchange after the handshake, or an empty one for a connection that ended there. */
    Exchange first() {
        return exchanges.isEmpty() ? new Exchange(0, 0, 0, -1) : exchanges.get(0);
    }
}
