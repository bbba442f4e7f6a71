package dev.onionrelay.relay.proxy;

import dev.onionrelay.relay.Endpoint;
import io.netty.buffer.ByteBuf;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import org.jspecify.annotations.Nullable;

/**
 * The SOCKS5 handshake of RFC 1928 as a server reads it: the method selection (only "no authentication" is offered;
 * a client that does not offer it gets {@code 0xFF} and is closed), then one request. Only {@code CONNECT} is served
 * (other commands get {@code 0x07}), to an IPv4 or IPv6 address or a domain name (another address type gets
 * {@code 0x08}); any other protocol version is closed without a reply. Replies: {@code 0x00} granted, {@code 0x02}
 * not allowed by the ruleset (policy), {@code 0x04} host unreachable, {@code 0x05} connection refused, {@code 0x06}
 * TTL expired (the connect timed out), {@code 0x01} general failure.
 */
public final class Socks5Handshake implements ProxyHandshake {

    static final byte VERSION = 5;
    static final byte NO_AUTHENTICATION = 0;
    static final byte NO_ACCEPTABLE_METHOD = (byte) 0xFF;
    static final byte CONNECT = 1;
    static final byte IPV4 = 1;
    static final byte DOMAIN = 3;
    static final byte IPV6 = 4;

    private boolean methodChosen;

    @Override
    public String mode() {
        return "socks5";
    }

    @Override
    public Step offer(ByteBuf in) {
        return methodChosen ? request(in) : greeting(in);
    }

    private Step greeting(ByteBuf in) {
        int at = in.readerIndex();
        if (in.readableBytes() < 2) {
            return new Step.NeedMore(null);
        }
        if (in.getByte(at) != VERSION) {
            return new Step.Refusal(null, "not SOCKS version 5 (version byte " + (in.getByte(at) & 0xff) + ")");
        }
        int methods = in.getUnsignedByte(at + 1);
        if (in.readableBytes() < 2 + methods) {
            return new Step.NeedMore(null);
        }
        boolean noAuthentication = false;
        for (int i = 0; i < methods; i++) {
            noAuthentication |= in.getByte(at + 2 + i) == NO_AUTHENTICATION;
        }
        in.skipBytes(2 + methods);
        if (!noAuthentication) {
            return new Step.Refusal(
                    new byte[] {VERSION, NO_ACCEPTABLE_METHOD}, "no acceptable authentication method offered");
        }
        methodChosen = true;
        return new Step.NeedMore(new byte[] {VERSION, NO_AUTHENTICATION});
    }

    private Step request(ByteBuf in) {
        int at = in.readerIndex();
        if (in.readableBytes() < 4) {
            return new Step.NeedMore(null);
        }
        if (in.getByte(at) != VERSION) {
            return new Step.Refusal(null, "not SOCKS version 5 (version byte " + (in.getByte(at) & 0xff) + ")");
        }
        byte command = in.getByte(at + 1);
        if (command != CONNECT) {
            return new Step.Refusal(reply(0x07), "command " + (command & 0xff) + " not supported");
        }
        byte type = in.getByte(at + 3);
        int addressLength;
        switch (type) {
            case IPV4 -> addressLength = 4;
            case IPV6 -> addressLength = 16;
            case DOMAIN -> {
                if (in.readableBytes() < 5) {
                    return new Step.NeedMore(null);
                }
                addressLength = 1 + in.getUnsignedByte(at + 4);
            }
            default -> {
                return new Step.Refusal(reply(0x08), "address type " + (type & 0xff) + " not supported");
            }
        }
        if (in.readableBytes() < 4 + addressLength + 2) {
            return new Step.NeedMore(null);
        }
        String host;
        if (type == DOMAIN) {
            host = in.toString(at + 5, addressLength - 1, StandardCharsets.US_ASCII);
            if (!HttpConnectRequest.hostName(host)) {
                return new Step.Refusal(reply(0x01), "malformed domain name");
            }
        } else {
            byte[] address = new byte[addressLength];
            in.getBytes(at + 4, address);
            try {
                host = InetAddress.getByAddress(address).getHostAddress();
            } catch (UnknownHostException e) {
                return new Step.Refusal(reply(0x01), "malformed address");
            }
        }
        int port = in.getUnsignedShort(at + 4 + addressLength);
        in.skipBytes(4 + addressLength + 2);
        return new Step.Destination(new Endpoint(host, port));
    }

    /** A reply with the given code and an unspecified bound address (0.0.0.0:0), as most servers send. */
    static byte[] reply(int code) {
        return new byte[] {VERSION, (byte) code, 0, IPV4, 0, 0, 0, 0, 0, 0};
    }

    @Override
    public byte[] answer(ProxyOutcome outcome) {
        return reply(
                switch (outcome) {
                    case GRANTED -> 0x00;
                    case DENIED -> 0x02;
                    case UNREACHABLE -> 0x04;
                    case REFUSED -> 0x05;
                    case TIMEOUT -> 0x06;
                    case BAD_REQUEST -> 0x01;
                });
    }

    @Override
    public byte @Nullable [] timedOut() {
        return null;
    }
}
