#!/usr/bin/env python3
"""Peer-initiated pop, byte-exact: a two-layer client that sends close_notify on its innermost layer and,
in the SAME socket write, bytes of the layer outside it. Used by PeerPopTest.

usage: pop_peer.py PORT CA_FILE SERVER_NAME [outer]

With "outer": after step 1, close_notify on layer 0 while layer 1 is still open (a protocol error), then read
until EOF                                                                                   -> OUTER-CLOSED <n>

Steps (each prints a line; any failure prints FAIL <why> and exits 1):
  1. layer 0 and layer 1 handshakes (layer 1 inside layer 0), "before" echoed at depth 2   -> DEPTH2 OK
  2. close_notify on layer 1 + b"after-pop" as layer-0 data in one sendall                 -> SENT-POP
     reads layer-0 plaintext until the relay's close_notify (layer 1) and then the echo of
     "after-pop" arrived, both on the same TCP connection                                  -> DEPTH1 OK
  3. close_notify on layer 0 + b"ignored" as plaintext in one sendall (relay at minimum
     depth 1: that direction ends instead of popping), then reads until EOF                -> END <n>
"""
import socket
import ssl
import sys


def pump_out(sock, layers):
    """Flush outgoing records innermost first, each into the layer outside it, layer 0 to the socket."""
    for i in range(len(layers) - 1, -1, -1):
        data = layers[i][2].read()
        if not data:
            continue
        if i == 0:
            sock.sendall(data)
        else:
            layers[i - 1][0].write(data)


def feed(sock, layers):
    data = sock.recv(65536)
    if not data:
        raise EOFError("peer closed the TCP connection")
    layers[0][1].write(data)


def read_plain(layer):
    """All plaintext currently available from one SSLObject (b'' when none)."""
    out = b""
    while True:
        try:
            chunk = layer.read(65536)
        except ssl.SSLWantReadError:
            return out
        if not chunk:
            return out
        out += chunk


def handshake(sock, layers, index):
    obj = layers[index][0]
    while True:
        try:
            obj.do_handshake()
            pump_out(sock, layers)
            return
        except ssl.SSLWantReadError:
            pump_out(sock, layers)
            feed(sock, layers)
            # decrypt outer layers into the incoming BIO of the one handshaking
            for i in range(index):
                layers[i + 1][1].write(read_plain(layers[i][0]))


def main():
    port, ca, server_name = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    layers = []
    for index in range(2):
        context = ssl.create_default_context(cafile=ca)
        context.minimum_version = ssl.TLSVersion.TLSv1_3
        incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        layers.append((context.wrap_bio(incoming, outgoing, server_hostname=server_name), incoming, outgoing))
        handshake(sock, layers, index)

    # 1. echo at depth 2
    layers[1][0].write(b"before")
    pump_out(sock, layers)
    got = b""
    while got != b"before":
        feed(sock, layers)
        layers[1][1].write(read_plain(layers[0][0]))
        got += read_plain(layers[1][0])
        if len(got) > 6:
            print("FAIL echo at depth 2 was %r" % got, flush=True)
            return 1
    print("DEPTH2 OK", flush=True)

    if len(sys.argv) > 4 and sys.argv[4] == "outer":
        try:
            layers[0][0].unwrap()
        except ssl.SSLWantReadError:
            pass
        sock.sendall(layers[0][2].read())
        rest = b""
        while True:
            data = sock.recv(65536)
            if not data:
                break
            rest += data
        print("OUTER-CLOSED %d" % len(rest), flush=True)
        return 0

    # 2. close_notify on layer 1 and layer-0 data in one TCP write
    try:
        layers[1][0].unwrap()
    except ssl.SSLWantReadError:
        pass  # our close_notify is written; the relay's answer comes later
    close_notify = layers[1][2].read()
    layers[0][0].write(close_notify)
    layers[0][0].write(b"after-pop")
    sock.sendall(layers[0][2].read())
    print("SENT-POP %d" % len(close_notify), flush=True)
    plain0 = b""
    while b"after-pop" not in plain0:
        feed(sock, layers)
        plain0 += read_plain(layers[0][0])
    # what precedes the echo is the relay's close_notify for layer 1: finish that layer's shutdown with it
    layers[1][1].write(plain0[: plain0.index(b"after-pop")])
    try:
        layers[1][0].unwrap()
    except ssl.SSLError as e:
        print("FAIL layer 1 did not close cleanly: %s" % e, flush=True)
        return 1
    if not plain0.endswith(b"after-pop"):
        print("FAIL unexpected bytes after the echo: %r" % plain0, flush=True)
        return 1
    layers.pop()
    print("DEPTH1 OK", flush=True)

    # 3. close_notify on layer 0 (the minimum depth) followed by plaintext in the same write
    try:
        layers[0][0].unwrap()
    except ssl.SSLWantReadError:
        pass
    sock.sendall(layers[0][2].read() + b"ignored")
    rest = b""
    while True:
        data = sock.recv(65536)
        if not data:
            break
        rest += data
    print("END %d" % len(rest), flush=True)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception as e:  # noqa: BLE001 - any failure is a test failure with its reason
        print("FAIL %s: %s" % (type(e).__name__, e), flush=True)
        sys.exit(1)
