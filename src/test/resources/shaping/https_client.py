#!/usr/bin/env python3
"""Ordinary HTTPS connections with http.client, as a browser-less client makes them.

Each connection sends REQUESTS requests (keep-alive, the last one with Connection: close) for /bytes/N, each with a
random X-Pad header of 0-3000 bytes; sizes come from the sizes file (one "pad body" pair per request, a line per
connection), so the Java side draws them from the same distribution as the tunnels'. Every second connection resumes
the session of the one before (TLS 1.3 tickets), as a client with a session cache does.

usage: https_client.py PORT CA_PEM SIZES_FILE
"""
import http.client
import socket
import ssl
import sys


class Resuming(http.client.HTTPSConnection):
    session = None

    def connect(self):
        sock = socket.create_connection((self.host, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname="localhost", session=Resuming.session)


def main():
    port, ca, sizes = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    context = ssl.create_default_context(cafile=ca)
    done = 0
    with open(sizes) as lines:
        for index, line in enumerate(lines):
            numbers = [int(n) for n in line.split()]
            pairs = list(zip(numbers[0::2], numbers[1::2]))
            Resuming.session = None if index % 2 == 0 else Resuming.session
            connection = Resuming("127.0.0.1", port, context=context, timeout=30)
            connection.connect()
            tls = connection.sock
            for number, (pad, body) in enumerate(pairs):
                last = number == len(pairs) - 1
                headers = {"X-Pad": "p" * pad}
                if last:
                    headers["Connection"] = "close"
                connection.request("GET", "/bytes/%d" % body, headers=headers)
                response = connection.getresponse()
                if index % 2 == 0 and number == 0:
                    # The tickets came before the answer; the next connection offers one of them.
                    Resuming.session = tls.session
                if len(response.read()) != body:
                    sys.exit("short body")
            connection.close()
            done += 1
    print("DONE %d" % done, flush=True)


if __name__ == "__main__":
    main()
