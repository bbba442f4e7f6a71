package dev.onionrelay.relay;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.onionrelay.support.Scenario;
import dev.onionrelay.support.Traffic;
import dev.onionrelay.support.WiredOnion;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Nested records line up: each record of the inner layer fills exactly one record of the layer outside it, so the
 * sender never copies the head of the next inner record into an outer one, and the receiver never reassembles an
 * inner record from pieces of two outer ones.
 *
 * <pre>
 * client -> entry [egress L0, L1] -> (wire A) -> hop0 [ingress L0] -> (wire B) -> hop1 [ingress L1] -> target
 * </pre>
 *
 * Wire A alone cannot show it: aligned or not, it carries the same number of records of the same full size. But
 * wire B is L0's plaintext, L1's records as hop0 decrypted them from wire A's records in order. Knowing how many bytes
 * L0 adds to a record, we know where the content of each wire A record ends on wire B, and whether an L1 record ends
 * there too.
 */
@Scenario
class RecordAlignmentTest {

    static final long PAYLOAD = 4L << 20;

    static final int HANDSHAKE = 22;
    static final int APPLICATION_DATA = 23;

    WiredOnion onion;

    @BeforeEach
    void setUp() throws Exception {
        onion = new WiredOnion();
    }

    @AfterEach
    void tearDown() throws Exception {
        onion.close();
    }

    @Test
    void eachInnerRecordFillsExactlyOneOuterRecord() throws Exception {
        assertThat(Traffic.echoThenClose(onion.entryPort(), PAYLOAD).intact()).isTrue();
        await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> {
            assertThat(onion.wireA.finishedConnections()).isEqualTo(1);
            assertThat(onion.wireB.finishedConnections()).isEqualTo(1);
        });
        List<TlsRecord> outer = TlsRecord.parseAll(onion.wireA.upstream());
        List<TlsRecord> inner = TlsRecord.parseAll(onion.wireB.upstream());

        // L0's handshake from the client ends with its Finished, the first record TLS 1.3 encrypts. Every encrypted
        // record after it carries L1's bytes, the first one L1's ClientHello alone: the difference is what L0 adds.
        List<TlsRecord> carriers = outer.stream()
                .filter(record -> record.type() == APPLICATION_DATA)
                .skip(1)
                .toList();
        assertThat(inner.get(0).type()).as("L1's first record, its ClientHello").isEqualTo(HANDSHAKE);
        int expansion = carriers.get(0).size() - inner.get(0).size();

        List<Carried> carried = carried(carriers, expansion, inner);

        assertThat(carried.stream().mapToLong(Carried::plaintext).sum())
                .as("L0 plaintext, with L0 adding %d bytes per record", expansion)
                .isEqualTo(onion.wireB.upstream().length);
        // The L0 record after the ClientHello's carries the rest of L1's handshake (its Finished), and OpenSSL lets the
        // first data follow it in the same flush: that one record may end inside an L1 record, once per connection.
        List<Carried> splitting =
                carried.stream().filter(c -> c.cutInto() > 0 && c.index() > 1).toList();
        assertThat(splitting.size())
                .as(
                        "of %d L0 records, those ending inside an L1 record, e.g. %s",
                        carried.size(), splitting.stream().limit(3).toList())
                .isZero();

        // Not vacuous: most of the payload crossed in full-size records, each one L1 record exactly.
        int fullSize = carried.stream().mapToInt(Carried::size).max().orElseThrow();
        List<Carried> full = carried.stream()
                .filter(c -> c.size() == fullSize && c.index() > 1)
                .toList();
        assertThat(full).hasSizeGreaterThan((int) (PAYLOAD / (16 * 1024) / 2)).allMatch(c -> c.innerRecords() == 1);
    }

    /**
     * One L0 record and what it carries of wire B: its plaintext, the L1 records that end in it, and how far it cuts
     * into the L1 record it ends in (0 when it ends where an L1 record ends).
     */
    record Carried(int index, int size, int plaintext, int innerRecords, int cutInto) {}

    /** Walks wire B along the L0 records that carried it, until all of it is accounted for. */
    private static List<Carried> carried(List<TlsRecord> carriers, int expansion, List<TlsRecord> inner) {
        List<Long> innerEnds = new ArrayList<>();
        long total = 0;
        for (TlsRecord record : inner) {
            total += record.size();
            innerEnds.add(total);
        }
        List<Carried> result = new ArrayList<>();
        long offset = 0;
        int ended = 0;
        for (int i = 0; i < carriers.size() && offset < total; i++) {
            int size = carriers.get(i).size();
            offset += size - expansion;
            int endedBefore = ended;
            while (ended < innerEnds.size() && innerEnds.get(ended) <= offset) {
                ended++;
            }
            long lastInnerEnd = ended == 0 ? 0 : innerEnds.get(ended - 1);
            result.add(new Carried(i, size, size - expansion, ended - endedBefore, (int) (offset - lastInnerEnd)));
        }
        return result;
    }

    /** One TLS record as seen on the wire (RFC 8446 section 5.1): its header only. */
    record TlsRecord(int type, int length) {

        static final int HEADER = 5;

        /** Bytes on the wire, header included. */
        int size() {
            return HEADER + length;
        }

        /** Parses a whole captured stream; fails unless it is nothing but complete records. */
        static List<TlsRecord> parseAll(byte[] stream) {
            List<TlsRecord> records = new ArrayList<>();
            int offset = 0;
            while (offset < stream.length) {
                assertThat(stream.length - offset)
                        .as("record header at offset %d", offset)
                        .isGreaterThanOrEqualTo(HEADER);
                int type = stream[offset] & 0xff;
                int length = (stream[offset + 3] & 0xff) << 8 | stream[offset + 4] & 0xff;
                assertThat(type).as("content type at offset %d", offset).isBetween(20, 23);
                assertThat(stream.length - offset - HEADER)
                        .as("record body at offset %d", offset)
                        .isGreaterThanOrEqualTo(length);
                records.add(new TlsRecord(type, length));
                offset += HEADER + length;
            }
            return records;
        }
    }
}
