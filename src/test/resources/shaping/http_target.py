#!/usr/bin/env python3
"""HTTP/1.1 target for the detector's traffic: GET /bytes/N answers N bytes of body.

One listener speaks TLS (CPython's ssl over OpenSSL: an ordinary HTTPS server), the other plaintext (the target behind
an onion's exit relay, which has peeled the layers). Both serve the same answers, so request and response sizes are the
same for the tunnels and for the ordinary HTTPS connections. Prints "LISTENING tls=<port> plain=<port>".

usage: http_target.py CERT_PEM KEY_PEM
"""
import http.server
import ssl
import sys
import threading


class Bytes(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # The head and the body leave in two writes (two TLS records on the HTTPS listener either way); with Nagle's
    # algorithm the body waited for the client's delayed ACK of the head, ~40 ms per answer on a kept-alive
    # connection. Web servers turn it off (nginx's tcp_nodelay is on by default).
    disable_nagle_algorithm = True

    def do_GET(self):
        try:
            size = int(self.path.rsplit("/", 1)[-1])
        except ValueError:
            size = 0
        body = b"x" * size
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(size))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def serve(server):
    threading.Thread(target=server.serve_forever, daemon=True).start()


def main():
    cert, key = sys.argv[1], sys.argv[2]
    tls = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Bytes)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    tls.socket = context.wrap_socket(tls.socket, server_side=True)
    plain = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Bytes)
    tls.daemon_threads = plain.daemon_threads = True
    serve(tls)
    serve(plain)
    print("LISTENING tls=%d plain=%d" % (tls.server_address[1], plain.server_address[1]), flush=True)
    sys.stdin.read()  # until the test closes our stdin


if __name__ == "__main__":
    main()
