package dev.onionrelay.shaping;

import static org.assertj.core.api.Assertions.assertThat;

import dev.onionrelay.layer.LayerSpec;
import dev.onionrelay.relay.Relay;
import dev.onionrelay.support.EchoServer;
import dev.onionrelay.support.Layers;
import dev.onionrelay.support.Onions;
import dev.onionrelay.support.Scenario;
import dev.onionrelay.support.TlsRecordTap;
import dev.onionrelay.support.Traffic;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Issue 27, acceptance 2: what a passive observer between a depth-2 entry and its exit relay sees of the first records
 * and of the teardown varies from tunnel to tunnel once the outer layer is shaped, with fresh and resumed handshakes
 * alike. A {@link TlsRecordTap} between the relays logs every record; per tunnel we take the first client record after
 * the outer handshake (it carries the inner ClientHello, or its start), the bytes of the first server burst after it
 * (the server's records until the client's next one: the inner server flight) and the last two records each way (the teardown). With padding off (the control, which gives the test
 * its teeth) one size covers most tunnels; with padding on no single value covers more than 5% of them.
 */
@Scenario
class ShapedRecordSizesTest {

    static final int APPLICATION_DATA = 23;

    Onions onions;
    EchoServer target;
    TlsRecordTap tap;

    @BeforeEach
    void setUp() throws Exception {
        onions = new Onions();
        onions.pki.ca("ca");
        onions.pki.leaf("exit", "ca");
        target = new EchoServer();
    }

    @AfterEach
    void tearDown() throws Exception {
        onions.close();
        if (tap != null) {
            tap.close();
        }
        target.close();
    }

    /** What the observer sees of one tunnel. */
    record Observed(int firstClientRecord, int serverBurst, String teardown) {}

    @Test
    void shapedTunnelsShowNoCommonSizeFreshOrResumed() throws Exception {
        openExit(true);
        List<Observed> resumed = tunnels(entry(true), 100);
        List<Observed> fresh = new ArrayList<>();
        for (int i = 0; i < 100; i++) {
            // A new entry relay has new client contexts, so nothing to resume: a full handshake on both layers.
            fresh.addAll(tunnels(entry(true), 1));
        }

        for (List<Observed> group : List.of(resumed, fresh)) {
            assertThat(largestShare(group, Observed::firstClientRecord))
                    .as("share of the most common first client record size")
                    .isLessThanOrEqualTo(0.05);
            assertThat(largestShare(group, Observed::serverBurst))
                    .as("share of the most common server burst")
                    .isLessThanOrEqualTo(0.05);
            assertThat(largestShare(group, Observed::teardown))
                    .as("share of the most common teardown")
                    .isLessThanOrEqualTo(0.05);
        }
    }

    @Test
    void plainTunnelsShowTheSameSizesEveryTime() throws Exception {
        openExit(false);
        List<Observed> resumed = tunnels(entry(false), 20);

        assertThat(largestShare(resumed, Observed::firstClientRecord)).isGreaterThan(0.5);
        assertThat(largestShare(resumed, Observed::teardown)).isGreaterThan(0.5);
    }

    /**
     * Acceptance 3, its byte part: a 1 MiB echo through a shaped outer layer puts at most 10% more bytes on the wire
     * than through a plain one (the same set-up, records counted by the tap), set-up and teardown included.
     */
    @Test
    void aMebibyteThroughAShapedLayerCostsAtMostTenPercentMoreBytes() throws Exception {
        long plain = wireBytesOfOneMebibyteEcho(false);
        long shaped = wireBytesOfOneMebibyteEcho(true);

        System.out.printf(
                "1 MiB echo on the wire: plain %d bytes, shaped %d bytes (+%.2f%%)%n",
                plain, shaped, 100.0 * (shaped - plain) / plain);
        assertThat(shaped).as("bytes on the wire, shaped").isLessThanOrEqualTo(plain * 11 / 10);
        assertThat(shaped).as("the shaped layer pads something").isGreaterThan(plain);
    }

    private long wireBytesOfOneMebibyteEcho(boolean padding) throws Exception {
        if (tap != null) {
            tap.close();
        }
        openExit(padding);
        Relay entry = entry(padding);
        assertThat(Traffic.echoThenClose(Onions.port(entry), 1 << 20).intact()).isTrue();
        TlsRecordTap.Connection connection = tap.connections().get(0);
        assertThat(connection.awaitEnd(10)).isTrue();
        entry.stop();
        return connection.records().stream()
                .mapToLong(TlsRecordTap.Record::wireLength)
                .sum();
    }

    private void openExit(boolean padding) throws Exception {
        Relay exit = onions.relay(
                "exit",
                target.port(),
                List.of(shaped(Layers.server("L0", "exit"), padding), Layers.server("L1", "exit")),
                List.of());
        tap = new TlsRecordTap(Onions.port(exit));
    }

    private Relay entry(boolean padding) throws Exception {
        return onions.relay(
                "entry", tap.port(), List.of(), List.of(shaped(tls13Client("L0"), padding), tls13Client("L1")));
    }

    private static LayerSpec tls13Client(String name) {
        return Layers.withProtocols(Layers.client(name, "ca", "localhost"), List.of("TLSv1.3"));
    }

    private static LayerSpec shaped(LayerSpec spec, boolean padding) {
        return padding ? spec.withPadding(true) : spec;
    }

    /** {@code count} tunnels one after the other through {@code entry}, each a short echo, then closes it. */
    private List<Observed> tunnels(Relay entry, int count) throws Exception {
        List<Observed> observed = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            int before = tap.connections().size();
            assertThat(Traffic.echoThenClose(Onions.port(entry), 1024).intact()).isTrue();
            TlsRecordTap.Connection connection = tap.connections().get(before);
            assertThat(connection.awaitEnd(10))
                    .as("the tunnel ended on the wire")
                    .isTrue();
            observed.add(observe(connection.records()));
        }
        entry.stop();
        return observed;
    }

    /**
     * The first client application record after the client's Finished (TLS 1.3 sends the Finished as the first
     * application-data record), the bytes of the first server burst after it (the client records that continue its
     * burst skipped), and the last two records each way.
     */
    static Observed observe(List<TlsRecordTap.Record> records) {
        int first = -1;
        int seen = 0;
        for (int i = 0; i < records.size(); i++) {
            TlsRecordTap.Record record = records.get(i);
            if (record.direction() == TlsRecordTap.Direction.CLIENT
                    && record.contentType() == APPLICATION_DATA
                    && ++seen == 2) {
                first = i;
                break;
            }
        }
        assertThat(first).as("a client record after the handshake").isPositive();
        int next = first + 1;
        while (next < records.size() && records.get(next).direction() == TlsRecordTap.Direction.CLIENT) {
            next++;
        }
        int burst = 0;
        for (int i = next; i < records.size() && records.get(i).direction() == TlsRecordTap.Direction.SERVER; i++) {
            burst += records.get(i).wireLength();
        }
        return new Observed(records.get(first).wireLength(), burst, last(records, true) + "/" + last(records, false));
    }

    private static String last(List<TlsRecordTap.Record> records, boolean fromClient) {
        List<Integer> sizes = records.stream()
                .filter(record -> (record.direction() == TlsRecordTap.Direction.CLIENT) == fromClient)
                .map(TlsRecordTap.Record::wireLength)
                .toList();
        return sizes.subList(Math.max(0, sizes.size() - 2), sizes.size()).toString();
    }

    private static <T> double largestShare(Collection<Observed> group, Function<Observed, T> feature) {
        Map<T, Long> counts = group.stream().collect(Collectors.groupingBy(feature, Collectors.counting()));
        long largest = counts.values().stream().mapToLong(Long::longValue).max().orElse(0);
        return (double) largest / group.size();
    }
}
