#!/usr/bin/env bash
# Runs the README's demo command exactly as written, waits for the onion, sends an HTTP request through its three
# hops, and stops it. Exits non-zero when the demo does not carry bytes.
set -uo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
log="$work/demo.log"
# The demo keeps its state in ./data-demo; start from a clean one so the check is repeatable.
rm -rf data-demo
./mvnw -q -B spring-boot:run -Dspring-boot.run.profiles=demo > "$log" 2>&1 &
pid=$!
cleanup() { pkill -P "$pid" 2>/dev/null; kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
for _ in $(seq 1 180); do
  grep -q "onion-relay demo" "$log" && break
  kill -0 "$pid" 2>/dev/null || { echo "demo: the service exited"; tail -40 "$log"; exit 1; }
  sleep 1
done
grep -q "onion-relay demo" "$log" || { echo "demo: no onion after 180 s"; tail -40 "$log"; exit 1; }
body=$(curl -sS --max-time 20 http://127.0.0.1:7000/v3/api-docs)
case "$body" in
  *'"openapi"'*) echo "demo: the three-hop onion carried an HTTP request and its answer (${#body} bytes)";;
  *) echo "demo: unexpected answer through the onion: ${body:0:300}"; tail -40 "$log"; exit 1;;
esac
token=$(cat data-demo/admin.token)
tunnels=$(curl -sS -H "Authorization: Bearer $token" http://127.0.0.1:8080/relays/demo-entry)
case "$tunnels" in
  *'"totalTunnels":1'*) echo "demo: demo-entry counted the tunnel";;
  *) echo "demo: demo-entry did not count the tunnel: ${tunnels:0:300}"; exit 1;;
esac
