package dev.onionrelay.relay.upstream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.HexFormat;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The {@code proxyProtocol} setting and the edges of its header: the names the API takes and gives, {@code off}
 * sending nothing, an unresolved address refused rather than written wrong, a zone id never written into a v1 line,
 * and a v2 header whose length field always matches the bytes that follow it.
 */
class ProxyProtocolTest {

    @ParameterizedTest(name = "''{0}'' -> {1}")
    @CsvSource(
            value = {"v1|V1", "V1|V1", "' v2 '|V2", "V2|V2", "v3|", "''|", "off|", "OFF|", "1|", "proxy-v1|"},
            delimiter = '|')
    void theApiNamesTheVersions(String value, ProxyProtocol expected) {
        assertThat(ProxyProtocol.named(value)).isEqualTo(expected);
    }

    @Test
    void offHasNoLabelAndTheVersionsTheirOwn() {
        assertThat(ProxyProtocol.OFF.label()).isNull();
        assertThat(ProxyProtocol.V1.label()).isEqualTo("v1");
        assertThat(ProxyProtocol.V2.label()).isEqualTo("v2");
        for (ProxyProtocol version : ProxyProtocol.values()) {
            if (version != ProxyProtocol.OFF) {
                assertThat(ProxyProtocol.named(version.label())).isEqualTo(version);
            }
        }
    }

    @Test
    void offSendsNothing() throws Exception {
        InetSocketAddress address = new InetSocketAddress(InetAddress.getByName("127.0.0.1"), 1);
        assertThat(ProxyProtocolHeader.encode(ProxyProtocol.OFF, address, address))
                .isEmpty();
    }

    @ParameterizedTest
    @EnumSource(ProxyProtocol.class)
    void anUnresolvedAddressIsRefusedNotWrittenWrong(ProxyProtocol version) throws Exception {
        InetSocketAddress resolved = new InetSocketAddress(InetAddress.getByName("127.0.0.1"), 1);
        InetSocketAddress unresolved = InetSocketAddress.createUnresolved("client.example", 2);
        assertThatThrownBy(() -> ProxyProtocolHeader.encode(version, unresolved, resolved))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("resolved");
        assertThatThrownBy(() -> ProxyProtocolHeader.encode(version, resolved, unresolved))
                .isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void aZoneIdIsNotWrittenIntoAVersionOneLine() throws Exception {
        byte[] linkLocal = HexFormat.of().parseHex("fe800000000000000000000000000001");
        InetSocketAddress scoped = new InetSocketAddress(Inet6Address.getByAddress(null, linkLocal, 3), 40000);
        InetSocketAddress local = new InetSocketAddress(InetAddress.getByName("::1"), 443);
        String line =
                new String(ProxyProtocolHeader.encode(ProxyProtocol.V1, scoped, local), StandardCharsets.US_ASCII);
        assertThat(line).isEqualTo("PROXY TCP6 fe80:0:0:0:0:0:0:1 0:0:0:0:0:0:0:1 40000 443\r\n");
    }

    @ParameterizedTest(name = "{0} -> {1}")
    @CsvSource({"127.0.0.1, 10.0.0.1, 12", "::1, ::2, 36", "127.0.0.1, ::1, 36", "::1, 127.0.0.1, 36"})
    void theVersionTwoLengthFieldCountsTheAddressBlock(String from, String to, int length) throws Exception {
        byte[] header = ProxyProtocolHeader.encode(
                ProxyProtocol.V2,
                new InetSocketAddress(InetAddress.getByName(from), 1),
                new InetSocketAddress(InetAddress.getByName(to), 2));
        assertThat(header).hasSize(16 + length);
        assertThat(((header[14] & 0xff) << 8) | (header[15] & 0xff)).isEqualTo(length);
        assertThat(java.util.Arrays.copyOf(header, 12)).isEqualTo(ProxyProtocolHeader.V2_SIGNATURE);
    }
}
