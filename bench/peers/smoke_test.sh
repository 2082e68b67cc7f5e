#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Smoke tests of the peer benchmark (ctest bench.peers.*), a few seconds each:
#   smoke_test.sh LOAD SERVER [EXTRA...]  the server starts, echoes a few hundred requests on 1 and on 16
#                                         connections, every byte checked by the load generator LOAD, echoes
#                                         two 4 MB streams at once whole (writes the socket cannot take at
#                                         once, so the flow-control path runs), echoes 20 half-closed
#                                         connections and ends each, and
#                                         exits 0 on SIGTERM; a bad command line gets exit 2 and one line
#                                         from the server and from LOAD; a peer left alone past its
#                                         --max-seconds exits 1 by itself.
#   smoke_test.sh --script SCRIPT         scripts/bench-peers.sh answers bad flags with exit 2 and one line.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR
source "$(dirname "$0")/lib.sh"

work=$(mktemp -d "${TMPDIR:-/tmp}/emio-peer-smoke.XXXXXX")
trap 'peer_stop_now; rm -rf "$work"' EXIT
trap 'exit 130' INT TERM

fail() {
  echo "FAIL: $*" >&2
  for log in "$work"/*; do [ -s "$log" ] && { echo "--- $(basename "$log")" >&2; tail -n 5 "$log" >&2; }; done
  exit 1
}

# expect_usage_error WHAT COMMAND...: COMMAND exits 2 and prints exactly one line on stderr.
expect_usage_error() {
  local what=$1 code=0
  shift
  timeout 30 "$@" >"$work/usage.out" 2>"$work/usage.err" || code=$?
  [ "$code" = 2 ] || fail "$what: exit $code, not 2"
  [ "$(wc -l <"$work/usage.err")" = 1 ] || fail "$what: not one line on stderr"
}

check_script() {
  local script=$1
  expect_usage_error "an unknown flag" bash "$script" --no-such-flag
  expect_usage_error "--rounds without a number" bash "$script" --rounds
  expect_usage_error "--rounds 0" bash "$script" --rounds 0
  expect_usage_error "--connections with a word" bash "$script" --connections "1 many"
  expect_usage_error "--servers with an unknown server" bash "$script" --servers "raw-epoll nginx"
  echo "bench-peers.sh: bad flags get exit 2 and one line"
}

# expect_time_bound SERVER: started with --max-seconds 2 and never stopped, it exits 1 within 15 s.
expect_time_bound() {
  PEER_SERVER_MAX_SECONDS=2 peer_start "$work/bounded" -- "$1" || fail "the server did not start"
  local deadline=$((SECONDS + 15))
  while kill -0 "$peer_pid" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.05; done
  kill -0 "$peer_pid" 2>/dev/null && fail "still running 15 s after --max-seconds 2"
  local code=0
  wait "$peer_pid" || code=$?
  peer_pid=""
  [ "$code" = 1 ] || fail "exit $code past --max-seconds, not 1"
}

# expect_streams_echoed PORT: two clients stream 4 MB each at once and get every byte back.
expect_streams_echoed() {
  head -c 4000000 /dev/urandom >"$work/stream.in"
  local clients=() client
  for client in 1 2; do
    timeout 60 socat -t 30 -b 65536 - "TCP:127.0.0.1:$1" <"$work/stream.in" >"$work/stream.$client" &
    clients+=("$!")
  done
  wait "${clients[@]}" || fail "a streaming client failed"
  for client in 1 2; do cmp -s "$work/stream.in" "$work/stream.$client" || fail "stream $client came back altered"; done
}

# expect_half_closes_echoed PORT: 20 clients in turn send 64 bytes and shut their side down at once (the
# bytes and the FIN in one edge); each gets its bytes back and then the end of stream within 5 s, so a
# server that parks after a short read while the peer's FIN is already in waits for an edge that never
# comes, and fails here.
expect_half_closes_echoed() {
  timeout 120 python3 - "$1" <<'PY' || fail "a half-closed connection got no echo or no end of stream"
import socket, sys
for attempt in range(20):
    with socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5) as client:
        payload = bytes([attempt]) * 64
        client.sendall(payload)
        client.shutdown(socket.SHUT_WR)
        echoed = b""
        while True:
            chunk = client.recv(4096)  # socket.timeout after 5 s: the traceback says which attempt
            if not chunk:
                break
            echoed += chunk
        if echoed != payload:
            sys.exit(f"attempt {attempt}: {len(echoed)} bytes echoed of 64")
PY
}

check_server() {
  local load=$1 server=$2
  shift 2
  if [ "$(basename "$server")" != emio-echo ]; then
    expect_usage_error "$(basename "$server") without a port" "$server"
    expect_usage_error "$(basename "$server") with port 70000" "$server" 70000
    expect_time_bound "$server"
  fi
  expect_usage_error "the load generator without --port" "$load" --connections 1 --requests 1
  PEER_SERVER_MAX_SECONDS=60 peer_start "$work/server" -- "$server" "$@" || fail "the server did not start"
  local connections
  for connections in 1 16; do
    timeout 60 "$load" --port "$peer_port" --connections "$connections" --requests 320 --server-pid "$peer_pid" \
      --max-seconds 30 >"$work/load.$connections" 2>"$work/load.$connections.err" ||
      fail "the load generator failed on $connections connections"
    grep -q ' requests=320 ' "$work/load.$connections" || fail "not 320 requests on $connections connections"
    grep -q ' bytes_checked=20480 ' "$work/load.$connections" || fail "not every byte checked"
  done
  expect_streams_echoed "$peer_port"
  expect_half_closes_echoed "$peer_port"
  local code=0
  peer_stop || code=$?
  [ "$code" = 0 ] || fail "exit $code after SIGTERM, not 0"
  echo "$(basename "$server") $*: 2 x 320 requests, 2 x 4 MB and 20 half-closes echoed and checked, exit 0 on SIGTERM"
}

if [ "${1:-}" = --script ]; then
  check_script "$2"
else
  check_server "$@"
fi
