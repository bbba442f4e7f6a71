package dev.onionrelay.relay.upstream;

import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

/**
 * Encodes the PROXY protocol header (haproxy's proxy-protocol.txt, versions 1 and 2) for a TCP connection: the
 * original client's address and port as source, the address and port it connected to as destination. Both addresses
 * are given in one family: when one is IPv4 and the other IPv6, the IPv4 one is written as an IPv4-mapped IPv6
 * address.
 */
public final class ProxyProtocolHeader {

    /** The 12 bytes every version 2 header starts with. */
    static final byte[] V2_SIGNATURE = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};

    private static final byte V2_PROXY_COMMAND = 0x21; // version 2, command PROXY
    private static final byte TCP_OVER_IPV4 = 0x11; // AF_INET, STREAM
    private static final byte TCP_OVER_IPV6 = 0x21; // AF_INET6, STREAM

    private ProxyProtocolHeader() {}

    /**
     * @param source the client that connected to the relay
     * @param destination the address the client connected to
     */
    public static byte[] encode(ProxyProtocol version, InetSocketAddress source, InetSocketAddress destination) {
        InetAddress from = source.getAddress();
        InetAddress to = destination.getAddress();
        if (from == null || to == null) {
            throw new IllegalArgumentException("the PROXY header needs resolved addresses");
        }
        boolean ipv4 = from instanceof Inet4Address && to instanceof Inet4Address;
        if (!ipv4) {
            from = asIpv6(from);
            to = asIpv6(to);
        }
        return switch (version) {
            case OFF -> new byte[0];
            case V1 -> v1(ipv4, from, to, source.getPort(), destination.getPort());
            case V2 -> v2(ipv4, from, to, source.getPort(), destination.getPort());
        };
    }

    private static byte[] v1(boolean ipv4, InetAddress from, InetAddress to, int sourcePort, int destinationPort) {
        String line = "PROXY " + (ipv4 ? "TCP4" : "TCP6") + " " + text(from) + " " + text(to) + " " + sourcePort + " "
                + destinationPort + "\r\n";
        return line.getBytes(StandardCharsets.US_ASCII);
    }

    private static byte[] v2(boolean ipv4, InetAddress from, InetAddress to, int sourcePort, int destinationPort) {
        int addressLength = ipv4 ? 12 : 36;
        ByteBuffer header = ByteBuffer.allocate(16 + addressLength);
        header.put(V2_SIGNATURE);
        header.put(V2_PROXY_COMMAND);
        header.put(ipv4 ? TCP_OVER_IPV4 : TCP_OVER_IPV6);
        header.putShort((short) addressLength);
        header.put(from.getAddress());
        header.put(to.getAddress());
        header.putShort((short) sourcePort);
        header.putShort((short) destinationPort);
        return header.array();
    }

    /** The address as the v1 header writes it: dotted quad, or IPv6 in full lower-case hex without brackets. */
    private static String text(InetAddress address) {
        String host = address.getHostAddress();
        int scope = host.indexOf('%');
        return scope >= 0 ? host.substring(0, scope) : host;
    }

    private static Inet6Address asIpv6(InetAddress address) {
        if (address instanceof Inet6Address v6) {
            return v6;
        }
        byte[] mapped = new byte[16];
        mapped[10] = (byte) 0xFF;
        mapped[11] = (byte) 0xFF;
        System.arraycopy(address.getAddress(), 0, mapped, 12, 4);
        try {
            return Inet6Address.getByAddress(null, mapped, -1);
        } catch (UnknownHostException e) {
            throw new IllegalStateException(e);
        }
    }
}
