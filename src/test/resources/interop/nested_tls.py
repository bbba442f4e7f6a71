#!/usr/bin/env python3
"""nested_tls.py - an independent nested-TLS peer (TLS over TLS over TLS on one TCP connection).

Standard library only (ssl.MemoryBIO + SSLContext.wrap_bio / ssl.SSLObject, selectors).
Used by onion-relay's Java tests as a subprocess to prove interop in both directions.

Stack model (the same as onion-relay's stack semantics, docs/STACK.md):
  * layers[0] is the OUTERMOST layer, layers[-1] the INNERMOST.
  * outbound app bytes: written into the innermost SSLObject, its records written as plaintext
    into the next outer SSLObject, ..., layer 0's records go to the socket.
  * inbound socket bytes: fed into layer 0's incoming MemoryBIO, its plaintext fed into layer 1's
    incoming MemoryBIO, ..., the innermost layer's plaintext is application data.
  * push(): a new innermost layer; its handshake runs inside the established outer layers.
  * pop(): close_notify on the innermost layer, wait for the peer's close_notify, remove the
    layer, keep the TCP connection.  Bytes that followed the peer's close_notify (even in the
    same read) are still in the popped layer's incoming MemoryBIO: they are the plaintext of
    the next layer outwards and are handed on as application data.

Run `nested_tls.py -h`, `nested_tls.py client -h`, `nested_tls.py server -h`; README.md next to
this file documents the CLI, the output lines and the --steps language.
"""

import argparse
import collections
import hashlib
import os
import selectors
import socket
import ssl
import sys
import tempfile
import threading
import time
import urllib.parse

READ_CHUNK = 256 * 1024          # socket recv size
PLAIN_CHUNK = 64 * 1024          # app bytes encrypted per step when sending
OUT_HIGH_WATER = 512 * 1024      # socket-level ciphertext queued before send() waits
SSL_READ = 64 * 1024             # SSLObject.read size (OpenSSL returns at most one record)

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2


class NestedTlsError(Exception):
    """Any failure of the nested stack (protocol, handshake, connection, timeout)."""


class HandshakeError(NestedTlsError):
    pass


class ProtocolError(NestedTlsError):
    pass


class ConnectionEnded(NestedTlsError):
    pass


class Layer:
    __slots__ = ("obj", "incoming", "outgoing", "server_side", "established",
                 "peer_closed", "local_closed", "fed", "name")

    def __init__(self, obj, incoming, outgoing, server_side, name):
        self.obj = obj
        self.incoming = incoming
        self.outgoing = outgoing
        self.server_side = server_side
        self.established = False
        self.peer_closed = False     # peer's close_notify received on this layer
        self.local_closed = False    # our close_notify generated (unwrap() called)
        self.fed = 0                 # bytes ever written into .incoming
        self.name = name


class NestedTls:
    """A stack of SSLObjects over one (non-blocking) socket, driven by a selector.

    Single-threaded: every blocking call (push, pop, send, recv, ...) runs the I/O loop, which
    always reads while it waits to write, so two peers that both send big amounts never
    deadlock.  Not thread-safe: use one NestedTls from one thread.
    """

    def __init__(self, sock, *, timeout=30.0, follow_pops=False, min_depth=0, on_event=None):
        sock.setblocking(False)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass
        self.sock = sock
        self.timeout = timeout
        self.follow_pops = follow_pops
        self.min_depth = min_depth
        self.on_event = on_event or (lambda kind, **kw: None)
        self.layers = []
        self._sel = selectors.DefaultSelector()
        self._registered = selectors.EVENT_READ
        self._sel.register(sock, self._registered)
        self._out = bytearray()      # layer-0 ciphertext (or plaintext at depth 0) for the socket
        self._app = bytearray()      # innermost plaintext received, not yet consumed
        self._tcp_eof = False
        self._wr_shut = False
        self._closed = False
        self.unclean_eof = False
        self.raw_in = self.raw_out = 0
        self.app_in = self.app_out = 0
        self.leftover_total = 0      # bytes recovered from popped layers' incoming BIOs

    # ------------------------------------------------------------------ construction helpers
    @classmethod
    def connect(cls, host, port, *, timeout=30.0, **kw):
        sock = socket.create_connection((host, port), timeout=timeout)
        return cls(sock, timeout=timeout, **kw)

    @property
    def depth(self):
        return len(self.layers)

    @property
    def at_eof(self):
        """True when the application stream has ended: TCP EOF, or close_notify on the innermost
        layer that is not (yet) treated as a pop."""
        if self._tcp_eof:
            return True
        return bool(self.layers) and self.layers[-1].peer_closed

    # ------------------------------------------------------------------ public API
    def push(self, ctx, server_side, server_hostname=None):
        """Add a new innermost layer and run its handshake inside the current stack.

        Unconsumed application bytes already received belong to the new layer (they are the
        start of the peer's handshake, as with STARTTLS) and are moved into its incoming BIO.
        Returns layer_info() of the new layer."""
        if self.layers and (self.layers[-1].peer_closed or self.layers[-1].local_closed):
            raise NestedTlsError("cannot push over a closing layer")
        if self._wr_shut:
            raise NestedTlsError("cannot push after the write side was shut down")
        index = len(self.layers)
        incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        obj = ctx.wrap_bio(incoming, outgoing, server_side=server_side,
                           server_hostname=None if server_side else server_hostname)
        layer = Layer(obj, incoming, outgoing, server_side, f"layer {index}")
        if self._app:
            incoming.write(bytes(self._app))
            layer.fed += len(self._app)
            self._app.clear()
        self.layers.append(layer)
        try:
            while True:
                try:
                    obj.do_handshake()
                    break
                except ssl.SSLWantReadError:
                    self._flush_layers()
                    fed = layer.fed
                    self._drive(lambda: layer.fed != fed, f"handshake of layer {index}")
        except (ssl.SSLError, ssl.CertificateError) as e:
            self._send_alert_best_effort()
            raise HandshakeError(f"layer {index} handshake failed: {_ssl_reason(e)}") from e
        except NestedTlsError as e:
            raise HandshakeError(f"layer {index} handshake failed: {e}") from e
        layer.established = True
        self._flush_layers()
        self._pump()          # records that followed the handshake (tickets, app data, next hello)
        self.flush()
        info = self.layer_info(index)
        self.on_event("layer", **info)
        return info

    def pop(self):
        """stopTLS: close_notify on the innermost layer, wait for the peer's, remove the layer."""
        if not self.layers:
            raise NestedTlsError("pop at depth 0")
        layer = self.layers[-1]
        index = len(self.layers) - 1
        # unwrap() calls SSL_shutdown() twice; the second call reads, and a complete app-data
        # record in the BIO at that moment is fatal (APPLICATION_DATA_AFTER_CLOSE_NOTIFY) and
        # breaks the SSL object.  _pump() runs after every socket read, so the BIO holds at most
        # a partial record; pump once more anyway.  App data arriving later is read by
        # SSLObject.read(), which OpenSSL allows after our close_notify (TLS 1.2 and 1.3).
        if not layer.local_closed:
            self._pump()
            if layer in self.layers and not layer.local_closed:
                self._unwrap(layer)
                self._flush_layers()
        self._drive(lambda: layer.peer_closed or layer not in self.layers,
                    f"peer close_notify on layer {index}")
        if layer in self.layers:
            self._finish_pop("local")
        self.flush()

    def wait_pop(self):
        """Wait for the peer to close the innermost layer, answer it and pop (if not following
        pops automatically, which already did)."""
        if not self.layers:
            raise NestedTlsError("waitpop at depth 0")
        layer = self.layers[-1]
        index = len(self.layers) - 1
        self._drive(lambda: layer.peer_closed or layer not in self.layers,
                    f"peer close_notify on layer {index}")
        if layer in self.layers:
            self._finish_pop("peer")

    def send(self, data, flush=True):
        """Send application bytes through every layer (innermost encryption first)."""
        if self._wr_shut:
            raise NestedTlsError("send after the write side was shut down")
        mv = memoryview(data)
        for off in range(0, len(mv), PLAIN_CHUNK):
            chunk = mv[off:off + PLAIN_CHUNK]
            if self.layers:
                inner = self.layers[-1]
                if inner.local_closed:
                    raise NestedTlsError(f"send on closing layer {len(self.layers) - 1}")
                self._layer_write(inner, chunk)
                self._flush_layers()
            else:
                self._out += chunk
            if len(self._out) > OUT_HIGH_WATER:
                self._drive(lambda: len(self._out) <= OUT_HIGH_WATER, "send buffer to drain")
        self.app_out += len(mv)
        if flush:
            self.flush()
        else:
            self._service(0)

    def flush(self):
        """Block until every queued ciphertext byte is handed to the kernel."""
        if self._out and not self._wr_shut:
            self._drive(lambda: not self._out, "send buffer to drain")

    def recv(self, max_bytes=READ_CHUNK):
        """Application bytes (innermost plaintext); b'' at end of stream."""
        self._drive(lambda: self._app or self.at_eof, "data")
        return self.recv_nowait(max_bytes)

    def recv_nowait(self, max_bytes=None):
        if max_bytes is None or max_bytes >= len(self._app):
            data = bytes(self._app)
            self._app.clear()
        else:
            data = bytes(self._app[:max_bytes])
            del self._app[:max_bytes]
        self.app_in += len(data)
        return data

    def recv_exact(self, n):
        buf = bytearray()
        while len(buf) < n:
            data = self.recv(n - len(buf))
            if not data:
                raise ConnectionEnded(f"end of stream after {len(buf)} of {n} bytes")
            buf += data
        return bytes(buf)

    def poll(self):
        """Do whatever I/O is possible without blocking (answers peer pops in follow mode)."""
        self._service(0)

    def shutdown_write(self):
        """Half-close: close_notify on every layer, innermost first, then TCP FIN.  Reading
        stays possible (TLS 1.3 half-close; OpenSSL 3 also delivers TLS 1.2 app data that
        arrives after our close_notify, but a strict TLS 1.2 peer stops sending)."""
        if self._wr_shut:
            return
        self._pump()
        for layer in reversed(self.layers):
            if not layer.local_closed:
                self._unwrap(layer)
            self._flush_layers()
        self.flush()
        try:
            self.sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        self._wr_shut = True

    def close(self, linger=5.0):
        """Graceful end: shutdown_write(), wait (at most linger s) for the peer's FIN, close."""
        if self._closed:
            return
        try:
            self.shutdown_write()
            saved = self.timeout
            self.timeout = linger
            try:
                self._drive(lambda: self._discard_app() or self._tcp_eof, "peer to close")
            finally:
                self.timeout = saved
        except (NestedTlsError, OSError, ssl.SSLError, TimeoutError):
            pass
        finally:
            self.abort()

    def abort(self):
        if self._closed:
            return
        self._closed = True
        try:
            self._sel.close()
        finally:
            self.sock.close()

    def layer_info(self, index):
        layer = self.layers[index]
        obj = layer.obj
        cipher = obj.cipher() or ("-", "-", 0)
        return {
            "index": index,
            "role": "server" if layer.server_side else "client",
            "version": obj.version() or "-",
            "cipher": cipher[0],
            "bits": cipher[2],
            "alpn": obj.selected_alpn_protocol() or "-",
            "peer": _peer_subject(obj),
        }

    # ------------------------------------------------------------------ internals: layers
    def _discard_app(self):
        self._app.clear()
        return False

    @staticmethod
    def _layer_write(layer, data):
        mv = memoryview(data)
        while mv:
            n = layer.obj.write(mv)
            mv = mv[n:]

    def _unwrap(self, layer):
        try:
            layer.obj.unwrap()
        except ssl.SSLWantReadError:
            pass    # close_notify sent; the peer's has not arrived yet
        layer.local_closed = True

    def _flush_layers(self):
        """Move every layer's outgoing records outwards, innermost first, onto the socket queue."""
        layers = self.layers
        for i in range(len(layers) - 1, -1, -1):
            if layers[i].outgoing.pending:
                data = layers[i].outgoing.read()
                if i == 0:
                    if not self._wr_shut:
                        self._out += data
                else:
                    self._layer_write(layers[i - 1], data)

    def _pump(self):
        """Route inbound bytes outermost first: each established layer's plaintext is fed into
        the next layer's incoming BIO; the innermost's plaintext is application data.  A layer
        is drained completely before the next one is read, and nothing is read from a layer
        after its close_notify, so whatever followed a close_notify on layer k (even in the
        same socket read) stays, in order, in layer k's incoming BIO until layer k is popped."""
        i = 0
        while i < len(self.layers):
            layer = self.layers[i]
            if not layer.established:
                break                           # its handshake loop consumes the BIO
            if layer.peer_closed:
                i += 1                          # inner layers may still hold records
                continue
            try:
                data = layer.obj.read(SSL_READ)
            except ssl.SSLWantReadError:
                if layer.outgoing.pending:      # e.g. KeyUpdate answer
                    self._flush_layers()
                i += 1
                continue
            except ssl.SSLZeroReturnError:
                # raised when close_notify arrives after we sent ours (SSL_SENT_SHUTDOWN set)
                data = b""
            except ssl.SSLError as e:
                self._send_alert_best_effort()
                raise ProtocolError(f"layer {i}: {_ssl_reason(e)}") from e
            if layer.outgoing.pending:
                self._flush_layers()
            if not data:
                # close_notify.  CPython's SSLObject.read() returns b'' (instead of raising
                # SSLZeroReturnError) when only SSL_RECEIVED_SHUTDOWN is set.
                layer.peer_closed = True
                self.on_event("close_notify", index=i, depth=len(self.layers))
                i += 1
                continue
            if i + 1 < len(self.layers):
                nxt = self.layers[i + 1]
                nxt.incoming.write(data)
                nxt.fed += len(data)
            else:
                self._app += data
        self._check_closes()
        while (self.follow_pops and self.layers and self.layers[-1].peer_closed
               and not self.layers[-1].local_closed and not self._wr_shut
               and len(self.layers) > self.min_depth):
            self._finish_pop("peer")

    def _check_closes(self):
        """A close_notify on a layer that is not innermost is a protocol error, unless every
        inner layer was closed (by close_notify) before it."""
        n = len(self.layers)
        for k in range(n):
            if self.layers[k].peer_closed:
                open_inner = [j for j in range(k + 1, n) if not self.layers[j].peer_closed]
                if open_inner:
                    raise ProtocolError(f"close_notify on layer {k} while inner layer(s) "
                                        f"{open_inner} are still open (not innermost)")
                return

    def _finish_pop(self, by):
        layer = self.layers[-1]
        index = len(self.layers) - 1
        if not layer.local_closed:
            self._unwrap(layer)   # peer's close_notify is in: this answers with ours
        self._flush_layers()      # our close_notify goes out through the outer layers
        self.layers.pop()
        # Everything still in the popped layer's incoming MemoryBIO followed the peer's
        # close_notify: it is plaintext of the layer outwards (= now the innermost), i.e.
        # application data at the new depth (or the start of a new push's handshake).
        # OpenSSL does not read ahead (read_ahead is off; CPython's unwrap() even forces it
        # off), so no byte after the close_notify record is stuck inside the SSL object.
        leftover = layer.incoming.read()
        if leftover:
            self._app += leftover
            self.leftover_total += len(leftover)
        self.on_event("popped", index=index, by=by, leftover=len(leftover), depth=len(self.layers))

    def _send_alert_best_effort(self):
        """After a TLS error: push the alert OpenSSL queued out to the socket.  Write-only (no
        reading, so no re-entry into _pump), at most 2 s."""
        try:
            self._flush_layers()
        except ssl.SSLError:
            pass
        deadline = time.monotonic() + 2.0
        try:
            while self._out and not self._wr_shut and time.monotonic() < deadline:
                self._set_interest(selectors.EVENT_WRITE)
                if self._sel.select(deadline - time.monotonic()):
                    self._do_send()
        except (NestedTlsError, OSError):
            pass

    # ------------------------------------------------------------------ internals: socket I/O
    def _set_interest(self, want):
        if want != self._registered:
            self._sel.modify(self.sock, want)
            self._registered = want

    def _drive(self, cond, what):
        """Run the I/O loop until cond() holds.  timeout is an idle timeout (reset on progress)."""
        timeout = self.timeout
        deadline = None if timeout is None else time.monotonic() + timeout
        while not cond():
            want = 0
            if not self._tcp_eof:
                want |= selectors.EVENT_READ
            if self._out and not self._wr_shut:
                want |= selectors.EVENT_WRITE
            if not want:
                raise ConnectionEnded(f"connection closed by peer while waiting for {what}")
            self._set_interest(want)
            wait = None
            if deadline is not None:
                wait = deadline - time.monotonic()
                if wait <= 0:
                    raise NestedTlsError(f"timed out after {timeout}s waiting for {what}")
            progressed = False
            for _key, ev in self._sel.select(wait):
                if ev & selectors.EVENT_WRITE:
                    progressed |= self._do_send()
                if ev & selectors.EVENT_READ:
                    progressed |= self._do_recv()
            if progressed and deadline is not None:
                deadline = time.monotonic() + timeout

    def _service(self, wait):
        want = 0
        if not self._tcp_eof:
            want |= selectors.EVENT_READ
        if self._out and not self._wr_shut:
            want |= selectors.EVENT_WRITE
        if not want:
            return
        self._set_interest(want)
        for _key, ev in self._sel.select(wait):
            if ev & selectors.EVENT_WRITE:
                self._do_send()
            if ev & selectors.EVENT_READ:
                self._do_recv()

    def _do_send(self):
        if not self._out:
            return False
        try:
            n = self.sock.send(self._out)
        except (BlockingIOError, InterruptedError):
            return False
        except OSError as e:
            raise ConnectionEnded(f"send failed: {e}") from e
        del self._out[:n]
        self.raw_out += n
        return n > 0

    def _do_recv(self):
        try:
            data = self.sock.recv(READ_CHUNK)
        except (BlockingIOError, InterruptedError):
            return False
        except OSError as e:
            raise ConnectionEnded(f"recv failed: {e}") from e
        if not data:
            self._on_tcp_eof()
            return True
        self.raw_in += len(data)
        if not self.layers:
            self._app += data
        else:
            first = self.layers[0]
            first.incoming.write(data)
            first.fed += len(data)
            self._pump()
        return True

    def _on_tcp_eof(self):
        self._tcp_eof = True
        closed = sum(1 for layer in self.layers if layer.peer_closed)
        self.unclean_eof = bool(self.layers) and not self.layers[-1].peer_closed
        self.on_event("eof", clean=not self.unclean_eof, depth=len(self.layers), closed=closed)


# ====================================================================== helpers
def _ssl_reason(e):
    if isinstance(e, ssl.SSLError) and getattr(e, "reason", None):
        lib = getattr(e, "library", None)
        text = f"{lib}:{e.reason}" if lib else str(e.reason)
        detail = getattr(e, "verify_message", None)
        return f"{text} ({detail})" if detail else text
    return str(e) or e.__class__.__name__


def _decode_der(der):
    pem = ssl.DER_cert_to_PEM_cert(der)
    fd, path = tempfile.mkstemp(suffix=".pem")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(pem)
        return ssl._ssl._test_decode_cert(path)     # pylint: disable=protected-access
    finally:
        os.unlink(path)


def _peer_subject(obj):
    try:
        d = obj.getpeercert()
        if not d:
            der = obj.getpeercert(binary_form=True)
            if not der:
                return "-"
            d = _decode_der(der)
        subject = d.get("subject", ())
        attrs = [(k, v) for rdn in subject for (k, v) in rdn]
        short = {"commonName": "CN", "organizationName": "O", "organizationalUnitName": "OU",
                 "countryName": "C", "localityName": "L", "stateOrProvinceName": "ST"}
        cn = [v for k, v in attrs if k == "commonName"]
        text = "CN=" + cn[0] if cn else ",".join(f"{short.get(k, k)}={v}" for k, v in attrs)
        return text.replace(" ", "_") or "-"
    except Exception:                                # noqa: BLE001 - informational only
        return "?"


LAYER_KEYS = {"ca", "server_name", "cert", "key", "verify", "client_auth", "tls", "ciphers",
              "alpn", "role", "tickets"}


def parse_layer_spec(text, sep=","):
    spec = {}
    for part in text.split(sep):
        part = part.strip()
        if not part:
            continue
        if "=" not in part:
            raise ValueError(f"layer option {part!r} is not key=value")
        key, value = part.split("=", 1)
        key = key.strip().replace("-", "_")
        if key not in LAYER_KEYS:
            raise ValueError(f"unknown layer option {key!r} (known: {', '.join(sorted(LAYER_KEYS))})")
        spec[key] = value.strip()
    return spec


def build_context(spec, default_server_side):
    """Returns (ssl.SSLContext, server_side, server_hostname)."""
    for key in ("ca", "cert", "key"):
        if key in spec and not os.path.isfile(spec[key]):
            raise ValueError(f"{key}={spec[key]}: no such file")
    role = spec.get("role", "server" if default_server_side else "client")
    if role not in ("client", "server"):
        raise ValueError(f"role must be client or server, not {role!r}")
    server_side = role == "server"
    if server_side:
        if "cert" not in spec:
            raise ValueError("a server layer needs cert=PATH[,key=PATH]")
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(spec["cert"], spec.get("key"))
        mode = spec.get("client_auth", "require" if "ca" in spec else "none")
        if mode not in ("require", "optional", "none"):
            raise ValueError(f"client_auth must be require|optional|none, not {mode!r}")
        if mode != "none":
            if "ca" not in spec:
                raise ValueError("client_auth needs ca=PATH")
            ctx.load_verify_locations(cafile=spec["ca"])
            ctx.verify_mode = ssl.CERT_REQUIRED if mode == "require" else ssl.CERT_OPTIONAL
        if "tickets" in spec:
            ctx.num_tickets = int(spec["tickets"])
        hostname = None
    else:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        verify = spec.get("verify", "full")
        hostname = spec.get("server_name") or None
        if verify == "full":
            if not hostname:
                raise ValueError("verify=full needs server_name=NAME (or verify=chain|none)")
        elif verify == "chain":
            ctx.check_hostname = False
        elif verify == "none":
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        else:
            raise ValueError(f"verify must be full|chain|none, not {verify!r}")
        if verify != "none":
            if "ca" in spec:
                ctx.load_verify_locations(cafile=spec["ca"])
            else:
                ctx.load_default_certs()
        if "cert" in spec:
            ctx.load_cert_chain(spec["cert"], spec.get("key"))
    tls = spec.get("tls", "any")
    versions = {"1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}
    if tls in versions:
        ctx.minimum_version = ctx.maximum_version = versions[tls]
    elif tls == "any":
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    else:
        raise ValueError(f"tls must be 1.2|1.3|any, not {tls!r}")
    if "ciphers" in spec:
        ctx.set_ciphers(spec["ciphers"])
    if "alpn" in spec:
        ctx.set_alpn_protocols([p for p in spec["alpn"].split("/") if p])
    keylog = os.environ.get("SSLKEYLOGFILE")
    if keylog:
        ctx.keylog_filename = keylog
    return ctx, server_side, hostname


def parse_size(text):
    t = text.strip().lower().replace("ib", "").replace("b", "")
    mult = 1
    for suffix, m in (("k", 1 << 10), ("m", 1 << 20), ("g", 1 << 30)):
        if t.endswith(suffix):
            t, mult = t[:-1], m
            break
    value = int(t) * mult
    if value < 0:
        raise ValueError("negative size")
    return value


STEP_NAMES = {
    "send": "TEXT", "expect": "TEXT", "push": "SPEC", "pop": None, "waitpop": "TEXT?",
    "depth": "N", "sleep": "SECONDS", "random": "N", "echo": "N", "sendrandom": "N",
    "sink": "N", "close": None, "halfclose": None, "expecteof": None, "mark": "TEXT",
    "waitline": None, "waitfile": "PATH", "poll": None,
}


class Step:
    def __init__(self, name, arg, ctx=None):
        self.name, self.arg, self.ctx = name, arg, ctx

    def __str__(self):
        return self.name


def parse_steps(text, default_server_side):
    steps = []
    for raw in text.split(","):
        raw = raw.strip()
        if not raw:
            continue
        name, _, arg = raw.partition(":")
        name = name.strip().lower()
        if name not in STEP_NAMES:
            raise ValueError(f"unknown step {name!r} (known: {', '.join(sorted(STEP_NAMES))})")
        need = STEP_NAMES[name]
        if need is None and arg:
            raise ValueError(f"step {name!r} takes no argument")
        if need in ("TEXT", "N", "SPEC", "SECONDS", "PATH") and not arg:
            raise ValueError(f"step {name!r} needs an argument ({need})")
        if name in ("send", "expect", "waitpop", "mark"):
            steps.append(Step(name, urllib.parse.unquote_to_bytes(arg)))
        elif name == "push":
            steps.append(Step(name, arg, build_context(parse_layer_spec(arg, ";"), default_server_side)))
        elif name in ("depth", "random", "echo", "sendrandom", "sink"):
            steps.append(Step(name, parse_size(arg)))
        elif name == "sleep":
            steps.append(Step(name, float(arg)))
        else:
            steps.append(Step(name, arg))
    return steps


# ====================================================================== transfers
def random_chunks(n, chunk=PLAIN_CHUNK):
    left = n
    while left > 0:
        k = min(chunk, left)
        yield os.urandom(k)
        left -= k


def file_chunks(path, chunk=PLAIN_CHUNK):
    with open(path, "rb") as f:
        while True:
            data = f.read(chunk)
            if not data:
                return
            yield data


class EchoVerifier:
    """Compares received bytes with sent ones without keeping more than the in-flight data."""

    def __init__(self):
        self.unverified = bytearray()
        self.sent = 0
        self.received = 0
        self.sha = hashlib.sha256()

    def sent_chunk(self, chunk):
        self.unverified += chunk
        self.sent += len(chunk)
        self.sha.update(chunk)

    def received_chunk(self, data):
        if not data:
            return
        if len(data) > len(self.unverified):
            raise NestedTlsError(f"received {self.received + len(data)} bytes but only "
                                 f"{self.sent} were sent")
        if self.unverified[:len(data)] != data:
            head = self.unverified[:len(data)]
            pos = next(i for i in range(len(data)) if head[i] != data[i])
            raise NestedTlsError(f"echo mismatch at offset {self.received + pos}")
        del self.unverified[:len(data)]
        self.received += len(data)


def echo_transfer(nt, chunks, half_close=False):
    """Send chunks while concurrently reading and verifying the echo.  Returns (n, sha256hex)."""
    v = EchoVerifier()
    for chunk in chunks:
        v.sent_chunk(chunk)
        nt.send(chunk, flush=False)
        v.received_chunk(nt.recv_nowait())
    if half_close:
        nt.shutdown_write()
    else:
        nt.flush()
    while v.received < v.sent:
        data = nt.recv()
        if not data:
            raise ConnectionEnded(f"end of stream after {v.received} of {v.sent} echoed bytes")
        v.received_chunk(data)
    return v.sent, v.sha.hexdigest()


def send_all(nt, chunks):
    sha = hashlib.sha256()
    n = 0
    for chunk in chunks:
        sha.update(chunk)
        n += len(chunk)
        nt.send(chunk, flush=False)
        nt.recv_nowait()            # we are not expecting data; do not hoard it
    nt.flush()
    return n, sha.hexdigest()


def echo_exact(nt, n):
    sha = hashlib.sha256()
    done = 0
    while done < n:
        data = nt.recv(min(n - done, 1 << 20))
        if not data:
            raise ConnectionEnded(f"end of stream after {done} of {n} bytes to echo")
        sha.update(data)
        done += len(data)
        nt.send(data, flush=False)
    nt.flush()
    return n, sha.hexdigest()


def sink_exact(nt, n):
    sha = hashlib.sha256()
    done = 0
    while done < n:
        data = nt.recv(min(n - done, 1 << 20))
        if not data:
            raise ConnectionEnded(f"end of stream after {done} of {n} bytes")
        sha.update(data)
        done += len(data)
    return n, sha.hexdigest()


def run_steps(nt, steps, out):
    for idx, step in enumerate(steps):
        name, arg = step.name, step.arg
        detail = ""
        try:
            if name == "send":
                nt.send(arg)
            elif name == "expect":
                got = nt.recv_exact(len(arg))
                if got != arg:
                    raise NestedTlsError(f"expected {arg!r}, got {got!r}")
            elif name == "push":
                ctx, server_side, hostname = step.ctx
                nt.push(ctx, server_side, hostname)
                detail = f" depth={nt.depth}"
            elif name == "pop":
                nt.pop()
                detail = f" depth={nt.depth}"
            elif name == "waitpop":
                nt.wait_pop()
                if arg:
                    nt.send(arg)
                detail = f" depth={nt.depth}"
            elif name == "depth":
                if nt.depth != arg:
                    raise NestedTlsError(f"depth is {nt.depth}, expected {arg}")
            elif name == "sleep":
                nt.flush()
                time.sleep(arg)
            elif name == "random":
                n, sha = echo_transfer(nt, random_chunks(arg))
                detail = f" {n} {sha}"
            elif name == "echo":
                n, sha = echo_exact(nt, arg)
                detail = f" {n} {sha}"
            elif name == "sendrandom":
                n, sha = send_all(nt, random_chunks(arg))
                detail = f" {n} {sha}"
            elif name == "sink":
                n, sha = sink_exact(nt, arg)
                detail = f" {n} {sha}"
            elif name == "close":
                nt.close()
            elif name == "halfclose":
                nt.shutdown_write()
            elif name == "expecteof":
                data = nt.recv()
                if data:
                    raise NestedTlsError(f"expected end of stream, got {data[:32]!r}")
                detail = f" clean={'no' if nt.unclean_eof else 'yes'}"
            elif name == "mark":
                out(f"MARK {arg.decode('utf-8', 'replace')}")
            elif name == "waitline":
                nt.flush()
                if not sys.stdin.readline():
                    raise NestedTlsError("stdin closed while waiting for a line")
            elif name == "waitfile":
                nt.flush()
                deadline = time.monotonic() + (nt.timeout or 3600)
                while not os.path.exists(arg):
                    if time.monotonic() > deadline:
                        raise NestedTlsError(f"timed out waiting for file {arg}")
                    nt.poll()
                    time.sleep(0.02)
            elif name == "poll":
                nt.poll()
        except (NestedTlsError, ssl.SSLError, OSError) as e:
            raise NestedTlsError(f"step {idx} {name}: {_describe(e)}") from e
        out(f"STEP {idx} {name} OK{detail}")


# ====================================================================== CLI
class Printer:
    def __init__(self, prefix=""):
        self.lock = threading.Lock()
        self.prefix = prefix

    def __call__(self, line):
        with self.lock:
            sys.stdout.write(line + "\n")
            sys.stdout.flush()

    def event(self, kind, **kw):
        if kind == "layer":
            self(f"LAYER {kw['index']} {kw['version']} {kw['cipher']} peer={kw['peer']} "
                 f"role={kw['role']} alpn={kw['alpn']}")
        elif kind == "popped":
            self(f"POPPED {kw['index']} by={kw['by']} leftover={kw['leftover']} depth={kw['depth']}")
        elif kind == "eof":
            self(f"EOF clean={'yes' if kw['clean'] else 'no'} depth={kw['depth']} "
                 f"closed={kw['closed']}")
        elif kind == "close_notify":
            if os.environ.get("NESTED_TLS_DEBUG"):
                self(f"CLOSE_NOTIFY {kw['index']} depth={kw['depth']}")


def _describe(e):
    if isinstance(e, ssl.SSLError):
        return _ssl_reason(e)
    if isinstance(e, NestedTlsError):
        return str(e)
    return f"{e.__class__.__name__}: {e}"


def host_port(text):
    host, sep, port = text.rpartition(":")
    if not sep:
        raise argparse.ArgumentTypeError(f"{text!r} is not HOST:PORT")
    host = host.strip("[]") or "127.0.0.1"
    try:
        port = int(port)
    except ValueError:
        raise argparse.ArgumentTypeError(f"bad port in {text!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"bad port in {text!r}")
    return host, port


def size_arg(text):
    try:
        return parse_size(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"bad size {text!r}") from None


def build_parser():
    p = argparse.ArgumentParser(
        prog="nested_tls.py",
        description="Independent nested-TLS peer (layer 0 = outermost). Exit: 0 ok, 1 failure, 2 usage.")
    sub = p.add_subparsers(dest="mode", required=True)

    def common(sp):
        sp.add_argument("--layer", action="append", default=[], metavar="SPEC",
                        help="one TLS layer, repeat outermost first: key=value,... keys: "
                             + ", ".join(sorted(LAYER_KEYS)))
        sp.add_argument("--timeout", type=float, default=30.0,
                        help="idle timeout in seconds for every blocking step (default 30)")
        sp.add_argument("--follow-pops", action="store_true",
                        help="answer a peer close_notify on the innermost layer and pop it")
        sp.add_argument("--min-depth", type=int, default=0,
                        help="with --follow-pops: a peer pop below this depth ends the stream")
        sp.add_argument("--steps", metavar="STEPS",
                        help="script of comma separated steps run after the static layers")

    c = sub.add_parser("client", help="connect, push --layer layers, then transfer or run --steps")
    common(c)
    c.add_argument("--connect", required=True, type=host_port, metavar="HOST:PORT")
    c.add_argument("--send-random", type=size_arg, metavar="BYTES")
    c.add_argument("--send-file", metavar="FILE")
    c.add_argument("--marker", metavar="STRING",
                   help="UTF-8 bytes sent first (part of the payload, counts and hash)")
    c.add_argument("--expect-echo", action="store_true", help="verify the payload is echoed back")
    c.add_argument("--half-close", action="store_true",
                   help="after sending: close_notify on all layers + FIN, then read the echo")

    s = sub.add_parser("server", help="listen; per connection push --layer layers, then echo/sink/steps")
    common(s)
    s.add_argument("--listen", required=True, type=host_port, metavar="HOST:PORT")
    g = s.add_mutually_exclusive_group()
    g.add_argument("--echo", action="store_true", help="echo innermost plaintext (default)")
    g.add_argument("--sink-sha256", action="store_true",
                   help="read to the end of the stream and print RECEIVED <n> <sha256>")
    s.add_argument("--once", action="store_true", help="serve one connection, exit 0/1 with its result")
    s.add_argument("--ready-file", metavar="FILE", help="write the bound port here (atomically)")
    return p


def client_main(args, layers, steps, out):
    try:
        nt = NestedTls.connect(*args.connect, timeout=args.timeout, follow_pops=args.follow_pops,
                               min_depth=args.min_depth, on_event=out.event)
    except OSError as e:
        out(f"FAIL connect {args.connect[0]}:{args.connect[1]}: {e}")
        return EXIT_FAIL
    try:
        for ctx, server_side, hostname in layers:
            nt.push(ctx, server_side, hostname)
        if steps is not None:
            run_steps(nt, steps, out)
            nt.close()
            out(f"DONE {len(steps)} depth={nt.depth}")
            return EXIT_OK

        def chunks():
            if args.marker:
                yield args.marker.encode("utf-8")
            if args.send_random:
                yield from random_chunks(args.send_random)
            if args.send_file:
                yield from file_chunks(args.send_file)

        if args.expect_echo:
            n, sha = echo_transfer(nt, chunks(), half_close=args.half_close)
            if args.half_close:
                data = nt.recv()
                if data:
                    raise NestedTlsError(f"{len(data)} unexpected bytes after the echo")
            nt.close()
            out(f"OK {n} {sha}")
        else:
            n, sha = send_all(nt, chunks())
            nt.close()
            out(f"SENT {n} {sha}")
        return EXIT_OK
    except (NestedTlsError, ssl.SSLError, OSError) as e:
        out(f"FAIL {_describe(e)}")
        nt.abort()
        return EXIT_FAIL


def serve_connection(conn, addr, args, layers, steps, out):
    nt = NestedTls(conn, timeout=args.timeout, follow_pops=args.follow_pops,
                   min_depth=args.min_depth, on_event=out.event)
    out(f"ACCEPTED {addr[0]}:{addr[1]}")
    try:
        for ctx, server_side, hostname in layers:
            nt.push(ctx, server_side, hostname)
        if steps is not None:
            run_steps(nt, steps, out)
            nt.close()
            out(f"DONE {len(steps)} depth={nt.depth}")
        elif args.sink_sha256:
            sha = hashlib.sha256()
            n = 0
            while True:
                data = nt.recv()
                if not data:
                    break
                sha.update(data)
                n += len(data)
            out(f"RECEIVED {n} {sha.hexdigest()}")
            nt.close()
        else:
            sha = hashlib.sha256()
            n = 0
            while True:
                data = nt.recv(1 << 20)
                if not data:
                    break
                sha.update(data)
                n += len(data)
                nt.send(data, flush=False)
            nt.flush()
            out(f"ECHOED {n} {sha.hexdigest()}")
            nt.close()
        return True
    except (NestedTlsError, ssl.SSLError, OSError) as e:
        out(f"FAIL {_describe(e)}")
        nt.abort()
        return False


def server_main(args, layers, steps, out):
    host, port = args.listen
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        ls = socket.socket(family, socket.SOCK_STREAM)
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind((host, port))
        ls.listen(64)
    except OSError as e:
        out(f"FAIL listen {host}:{port}: {e}")
        return EXIT_FAIL
    bound = ls.getsockname()[1]
    out(f"LISTENING {bound}")
    if args.ready_file:
        tmp = f"{args.ready_file}.tmp{os.getpid()}"
        with open(tmp, "w") as f:
            f.write(f"{bound}\n")
        os.replace(tmp, args.ready_file)
    try:
        if args.once:
            conn, addr = ls.accept()
            ls.close()
            return EXIT_OK if serve_connection(conn, addr, args, layers, steps, out) else EXIT_FAIL
        while True:
            conn, addr = ls.accept()
            threading.Thread(target=serve_connection, args=(conn, addr, args, layers, steps, out),
                             daemon=True).start()
    finally:
        ls.close()


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    server = args.mode == "server"
    try:
        layers = [build_context(parse_layer_spec(text), server) for text in args.layer]
        steps = parse_steps(args.steps, server) if args.steps is not None else None
    except (ValueError, OSError, ssl.SSLError) as e:
        parser.error(f"bad --layer/--steps: {_describe(e) if not isinstance(e, ValueError) else e}")
    if args.mode == "client" and steps is not None and (
            args.send_random or args.send_file or args.marker or args.expect_echo):
        parser.error("--steps cannot be combined with --send-*/--marker/--expect-echo")
    if args.mode == "server" and steps is not None and (args.echo or args.sink_sha256):
        parser.error("--steps cannot be combined with --echo/--sink-sha256")
    out = Printer()
    try:
        if server:
            return server_main(args, layers, steps, out)
        return client_main(args, layers, steps, out)
    except KeyboardInterrupt:
        return EXIT_FAIL


if __name__ == "__main__":
    sys.exit(main())
