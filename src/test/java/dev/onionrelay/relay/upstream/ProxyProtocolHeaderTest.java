package dev.onionrelay.relay.upstream;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.HexFormat;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The PROXY header, byte for byte as haproxy's proxy-protocol.txt lays it out. */
class ProxyProtocolHeaderTest {

    private static InetSocketAddress at(String address, int port) throws Exception {
        return new InetSocketAddress(InetAddress.getByName(address), port);
    }

    @ParameterizedTest(name = "v1 {0}:{1} -> {2}:{3}")
    @CsvSource(
            delimiter = '|',
            value = {
                // the spec's longest TCP4 line
                "255.255.255.255|65535|255.255.255.255|65535|PROXY TCP4 255.255.255.255 255.255.255.255 65535 65535",
                "192.168.0.1|56324|192.168.0.11|443|PROXY TCP4 192.168.0.1 192.168.0.11 56324 443",
                "127.0.0.1|1|127.0.0.2|2|PROXY TCP4 127.0.0.1 127.0.0.2 1 2",
                // the spec's longest TCP6 line
                "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff|65535|ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff|65535|"
                        + "PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535",
                "::1|40000|::1|8443|PROXY TCP6 0:0:0:0:0:0:0:1 0:0:0:0:0:0:0:1 40000 8443",
                // one address of each family: both written as IPv6, the IPv4 one mapped
                "127.0.0.1|40000|::1|8443|PROXY TCP6 0:0:0:0:0:ffff:7f00:1 0:0:0:0:0:0:0:1 40000 8443"
            })
    void versionOneIsOneLineEndingInCrLf(String from, int fromPort, String to, int toPort, String line)
            throws Exception {
        byte[] header = ProxyProtocolHeader.encode(ProxyProtocol.V1, at(from, fromPort), at(to, toPort));
        assertThat(new String(header, StandardCharsets.US_ASCII)).isEqualTo(line + "\r\n");
        assertThat(header.length).as("the spec's bound for a v1 header").isLessThanOrEqualTo(107);
    }

    @ParameterizedTest(name = "v2 {0}:{1} -> {2}:{3}")
    @CsvSource(
            delimiter = '|',
            value = {
                // signature, version 2 + PROXY, AF_INET + STREAM, 12 address bytes, src, dst, sport, dport
                "192.168.0.1|56324|192.168.0.11|443|0d0a0d0a000d0a515549540a 21 11 000c c0a80001 c0a8000b dc04 01bb",
                "127.0.0.1|65535|127.0.0.1|1|0d0a0d0a000d0a515549540a 21 11 000c 7f000001 7f000001 ffff 0001",
                // AF_INET6 + STREAM, 36 address bytes
                "::1|40000|::1|8443|0d0a0d0a000d0a515549540a 21 21 0024 00000000000000000000000000000001"
                        + " 00000000000000000000000000000001 9c40 20fb",
                "127.0.0.1|40000|::1|8443|0d0a0d0a000d0a515549540a 21 21 0024 00000000000000000000ffff7f000001"
                        + " 00000000000000000000000000000001 9c40 20fb"
            })
    void versionTwoIsTheBinaryBlock(String from, int fromPort, String to, int toPort, String hex) throws Exception {
        byte[] header = ProxyProtocolHeader.encode(ProxyProtocol.V2, at(from, fromPort), at(to, toPort));
        assertThat(HexFormat.of().formatHex(header)).isEqualTo(hex.replace(" ", ""));
    }
}
