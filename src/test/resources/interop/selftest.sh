#!/usr/bin/env bash
# selftest.sh - proves nested_tls.py against itself and against the openssl CLI.
# Usage: bash selftest.sh [-v]      (needs python3 >= 3.8 and the openssl CLI; < 60 s)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
PY=${PYTHON:-python3}
export PYTHONDONTWRITEBYTECODE=1
NT="$here/nested_tls.py"
VERBOSE=${1:-}
work=$(mktemp -d "${TMPDIR:-/tmp}/nested-tls-selftest.XXXXXX")
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  [ -n "${KEEP:-}" ] || rm -rf "$work"
}
trap cleanup EXIT

SECONDS=0
pass=0
fail() { echo "FAIL: $*" >&2; for f in "$work"/*.out; do echo "--- $f" >&2; cat "$f" >&2; done; exit 1; }
ok() { pass=$((pass + 1)); echo "ok $pass - $* (${SECONDS}s)"; }

bash "$here/gen_certs.sh" "$work/pki" >/dev/null
K=$work/pki

# layer specs (outermost first); independent CA per layer, client auth on layer 1
S1="cert=$K/a.pem,key=$K/a.key"
S2="cert=$K/b.pem,key=$K/b.key,ca=$K/ca2.pem,client_auth=require"
S3="cert=$K/c.pem,key=$K/c.key"
C1="ca=$K/ca1.pem,server_name=a.test"
C2="ca=$K/ca2.pem,server_name=b.test,cert=$K/client.pem,key=$K/client.key"
C3="ca=$K/ca1.pem,server_name=c.test"

# start_server NAME ARGS... -> sets $port; server stdout in $work/NAME.out
start_server() {
  local name=$1; shift
  rm -f "$work/$name.port"
  "$PY" "$NT" server --listen 127.0.0.1:0 --ready-file "$work/$name.port" --once "$@" \
    >"$work/$name.out" 2>&1 &
  spid=$!
  pids+=("$spid")
  for _ in $(seq 1 200); do [ -s "$work/$name.port" ] && break; sleep 0.02; done
  [ -s "$work/$name.port" ] || fail "$name: server did not start"
  port=$(cat "$work/$name.port")
  head -1 "$work/$name.out" | grep -qx "LISTENING $port" || fail "$name: first line is not LISTENING $port"
}
wait_server() { # NAME -> fails unless the --once server exits 0
  wait "$spid" || fail "$1: server exited $?"
}
client() { # NAME ARGS...
  local name=$1; shift
  "$PY" "$NT" client --connect "127.0.0.1:$port" --timeout 20 "$@" >"$work/$name.out" 2>&1 \
    || fail "$name: client exited $?"
  [ -n "$VERBOSE" ] && sed "s/^/  [$name] /" "$work/$name.out" || true
}
field() { grep "^$1 " "$2" | tail -1 | cut -d' ' -f"$3"; }

layers_s=("--layer $S1" "--layer $S1 --layer $S2" "--layer $S1 --layer $S2 --layer $S3")
layers_c=("--layer $C1" "--layer $C1 --layer $C2" "--layer $C1 --layer $C2 --layer $C3")

for depth in 1 2 3; do
  # shellcheck disable=SC2086
  start_server "echo$depth" --echo ${layers_s[$((depth - 1))]}
  # shellcheck disable=SC2086
  client "echo$depth-client" ${layers_c[$((depth - 1))]} --send-random 8M --expect-echo
  wait_server "echo$depth"
  c=$work/echo$depth-client.out s=$work/echo$depth.out
  [ "$(grep -c '^LAYER .* TLSv1.3 ' "$c")" = "$depth" ] || fail "echo$depth: expected $depth client LAYER lines"
  [ "$(grep -c '^LAYER ' "$s")" = "$depth" ] || fail "echo$depth: expected $depth server LAYER lines"
  [ "$(field OK "$c" 2)" = 8388608 ] || fail "echo$depth: client OK line"
  [ "$(field OK "$c" 3)" = "$(field ECHOED "$s" 3)" ] || fail "echo$depth: sha mismatch"
  grep -q "^EOF clean=yes depth=$depth closed=$depth" "$s" || fail "echo$depth: server did not see close_notify on every layer"
  ok "echo 8 MiB at depth $depth"

  # shellcheck disable=SC2086
  start_server "sink$depth" --sink-sha256 ${layers_s[$((depth - 1))]}
  # shellcheck disable=SC2086
  client "sink$depth-client" ${layers_c[$((depth - 1))]} --send-random 8M
  wait_server "sink$depth"
  [ "$(field SENT "$work/sink$depth-client.out" 3)" = "$(field RECEIVED "$work/sink$depth.out" 3)" ] \
    || fail "sink$depth: sha mismatch"
  [ "$(field RECEIVED "$work/sink$depth.out" 2)" = 8388608 ] || fail "sink$depth: byte count"
  ok "sink-sha256 8 MiB at depth $depth"
done

# half-close: close_notify on every layer + FIN first, the echo still comes back (TLS 1.3)
start_server halfclose --echo --layer "$S1" --layer "$S3"
client halfclose-client --layer "$C1" --layer "$C3" --send-random 1M --marker hello --expect-echo --half-close
wait_server halfclose
[ "$(field OK "$work/halfclose-client.out" 3)" = "$(field ECHOED "$work/halfclose.out" 3)" ] || fail "halfclose: sha"
ok "half-close then echo at depth 2"

# mixed versions: TLS 1.2 outside, TLS 1.3 inside
start_server mixed --echo --layer "$S1,tls=1.2" --layer "$S3"
client mixed-client --layer "$C1,tls=1.2" --layer "$C3" --send-random 2M --expect-echo
wait_server mixed
grep -q '^LAYER 0 TLSv1.2 ' "$work/mixed-client.out" || fail "mixed: layer 0 not TLS 1.2"
grep -q '^LAYER 1 TLSv1.3 ' "$work/mixed-client.out" || fail "mixed: layer 1 not TLS 1.3"
ok "TLS 1.2 outer + TLS 1.3 inner echo"

# a peer that does not trust the layer-1 client certificate: handshake failure -> FAIL, exit 1
start_server badauth --echo --layer "$S1" --layer "$S2"
if "$PY" "$NT" client --connect "127.0.0.1:$port" --timeout 10 --layer "$C1" \
     --layer "ca=$K/ca2.pem,server_name=b.test" --marker x --expect-echo >"$work/badauth-client.out" 2>&1; then
  fail "badauth: client should fail without a client certificate"
fi
wait "$spid" && fail "badauth: server should fail" || true
grep -q '^FAIL ' "$work/badauth-client.out" || fail "badauth: no FAIL line from client"
grep -q '^FAIL layer 1 handshake failed' "$work/badauth.out" || fail "badauth: server FAIL line"
ok "missing client certificate on layer 1 fails on both sides"

# wrong server_name on the inner layer: hostname check fails there, outer layer was fine
start_server badname --echo --layer "$S1" --layer "$S3"
if "$PY" "$NT" client --connect "127.0.0.1:$port" --timeout 10 --layer "$C1" \
     --layer "ca=$K/ca1.pem,server_name=wrong.test" --marker x --expect-echo >"$work/badname-client.out" 2>&1; then
  fail "badname: client should fail"
fi
wait "$spid" && fail "badname: server should fail" || true
grep -q '^FAIL layer 1 handshake failed: .*CERTIFICATE_VERIFY_FAILED' "$work/badname-client.out" || fail "badname: client FAIL line"
grep -q '^FAIL layer 1 handshake failed' "$work/badname.out" || fail "badname: server FAIL line"
ok "hostname mismatch on layer 1 fails on both sides"

# app data in flight while a pop is under way (peer sends before it sees our close_notify)
for v in 1.2 1.3; do
  start_server "inflight$v" --layer "$S1,tls=$v" --steps 'expect:go,sleep:0.3,send:late-data,waitpop:after,send:plain'
  client "inflight$v-client" --layer "$C1,tls=$v" --steps 'send:go,pop,expect:late-dataafterplain,depth:0'
  wait_server "inflight$v"
  grep -q "^LAYER 0 TLSv$v " "$work/inflight$v-client.out" || fail "inflight$v: version"
  grep -q '^DONE ' "$work/inflight$v-client.out" || fail "inflight$v: client not DONE"
  ok "TLS $v: data in flight during a pop is delivered, then plaintext"
done

# pops down to plaintext against a --follow-pops echo server (the way onion-relay pops)
start_server follow --echo --follow-pops --layer "$S1" --layer "$S2"
client follow-client --layer "$C1" --layer "$C2" \
  --steps 'send:hello,expect:hello,depth:2,random:1M,pop,depth:1,send:x,expect:x,pop,depth:0,send:plain%2C text,expect:plain%2C text'
wait_server follow
grep -q '^DONE ' "$work/follow-client.out" || fail "follow: client not DONE"
grep -q '^POPPED 1 by=peer .* depth=1' "$work/follow.out" || fail "follow: server did not follow pop 1"
grep -q '^POPPED 0 by=peer .* depth=0' "$work/follow.out" || fail "follow: server did not follow pop 0"
ok "client pops 2 -> 0 against --follow-pops server"

# scripted on both sides: push/pop mid-connection, bytes right after close_notify in the same
# read (waitpop:TEXT answers the pop and sends TEXT in the same socket write), pop to
# plaintext, push from plaintext, simultaneous pop by both sides.
start_server steps --layer "$S1" \
  --steps "expect:hello,send:hello,push:cert=$K/b.pem;key=$K/b.key,echo:2M,sleep:0.3,expect:x,waitpop:after-close-1,depth:1,waitpop:after-close-0,depth:0,expect:plain,send:plain,push:cert=$K/c.pem;key=$K/c.key,expect:again,send:again,pop,depth:0,expect:bye,send:bye"
client steps-client --layer "$C1" \
  --steps "send:hello,expect:hello,push:ca=$K/ca2.pem;server_name=b.test,depth:2,random:2M,send:x,pop,expect:after-close-1,depth:1,pop,expect:after-close-0,depth:0,send:plain,expect:plain,push:ca=$K/ca1.pem;server_name=c.test,depth:1,send:again,expect:again,pop,depth:0,send:bye,expect:bye"
wait_server steps
grep -q '^DONE ' "$work/steps-client.out" || fail "steps: client not DONE"
grep -q '^DONE ' "$work/steps.out" || fail "steps: server not DONE"
grep -q '^POPPED 1 by=local leftover=13 depth=1' "$work/steps-client.out" || fail "steps: leftover after close_notify (layer 1) not recovered"
grep -q '^POPPED 0 by=local leftover=13 depth=0' "$work/steps-client.out" || fail "steps: leftover after close_notify (layer 0) not recovered"
ok "steps: push/pop, leftover bytes after close_notify, plaintext, push from plaintext"

# close_notify on an outer layer while the inner one is open = protocol error
start_server notinner --echo --layer "$S1" --layer "$S3"
"$PY" - "$NT" "$port" "$K" >"$work/notinner-client.out" 2>&1 <<'EOF' || fail "notinner: helper failed"
import sys, importlib.util
spec = importlib.util.spec_from_file_location("nested_tls", sys.argv[1])
nt_mod = importlib.util.module_from_spec(spec); spec.loader.exec_module(nt_mod)
port, k = int(sys.argv[2]), sys.argv[3]
nt = nt_mod.NestedTls.connect("127.0.0.1", port, timeout=10)
for s in (f"ca={k}/ca1.pem,server_name=a.test", f"ca={k}/ca1.pem,server_name=c.test"):
    nt.push(*nt_mod.build_context(nt_mod.parse_layer_spec(s), False))
nt.send(b"x"); assert nt.recv_exact(1) == b"x"
nt._unwrap(nt.layers[0]); nt._flush_layers(); nt.flush()   # close_notify on layer 0 only
try:
    while nt.recv():
        pass
except nt_mod.NestedTlsError as e:
    print("client saw", e)
nt.abort()
EOF
wait "$spid" && fail "notinner: server should fail" || true
grep -q '^FAIL close_notify on layer 0 while inner layer(s) \[1\]' "$work/notinner.out" || fail "notinner: no protocol error"
ok "close_notify on a non-innermost layer is a protocol error"

# outer layer against the openssl CLI, both directions
if command -v openssl >/dev/null; then
  sport=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  openssl s_server -accept "127.0.0.1:$sport" -cert "$K/a.pem" -key "$K/a.key" -rev -naccept 1 \
    >"$work/s_server.out" 2>&1 &
  spid=$!; pids+=("$spid")
  for _ in $(seq 1 200); do grep -q '^ACCEPT' "$work/s_server.out" && break; sleep 0.05; done
  port=$sport
  client sserver-client --layer "$C1" --steps 'send:hello world%0A,expect:dlrow olleh%0A,send:nested%0A,expect:detsen%0A'
  wait "$spid" || true
  grep -q '^LAYER 0 TLSv1.3 ' "$work/sserver-client.out" || fail "s_server: no LAYER line"
  ok "depth 1 client against openssl s_server -rev"

  head -c 1048576 /dev/urandom >"$work/payload.bin"
  start_server sclient --sink-sha256 --layer "$S1"
  openssl s_client -connect "127.0.0.1:$port" -CAfile "$K/ca1.pem" -servername a.test \
    -verify_return_error -quiet -no_ign_eof -nocommands <"$work/payload.bin" >"$work/s_client.out" 2>&1 \
    || fail "s_client exited $?"
  wait_server sclient
  want=$(sha256sum "$work/payload.bin" | cut -d' ' -f1)
  [ "$(field RECEIVED "$work/sclient.out" 3)" = "$want" ] || fail "s_client -> sink: sha mismatch"
  grep -q '^EOF clean=yes depth=1 closed=1' "$work/sclient.out" || fail "s_client -> sink: no close_notify"
  ok "openssl s_client -> depth 1 sink server (1 MiB)"

  # TLS 1.3 KeyUpdate (s_client command 'K' = update_requested: we must answer with ours)
  start_server keyupdate --echo --layer "$S1"
  { printf 'hello\n'; sleep 0.3; printf 'K\n'; sleep 0.3; printf 'world\n'; sleep 0.3; } |
    openssl s_client -connect "127.0.0.1:$port" -CAfile "$K/ca1.pem" -servername a.test \
      -verify_return_error -quiet -no_ign_eof >"$work/keyupdate-client.out" 2>"$work/keyupdate-client.err" \
    || fail "keyupdate: s_client exited $?"
  wait_server keyupdate
  grep -q KEYUPDATE "$work/keyupdate-client.err" || fail "keyupdate: s_client sent no KeyUpdate"
  [ "$(cat "$work/keyupdate-client.out")" = "$(printf 'hello\nworld')" ] || fail "keyupdate: echo after KeyUpdate"
  grep -q '^ECHOED 12 ' "$work/keyupdate.out" || fail "keyupdate: server byte count"
  ok "TLS 1.3 KeyUpdate from openssl s_client is answered"
fi

echo "PASS $pass checks in ${SECONDS}s"
