#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The soak: emio-echo and emio-bridge (release build) under churning load for --minutes N (default 2), or
# --seconds N, checked by tests/soak/load.py (plain epoll, no emio): --connections echo clients (default
# 10000), 64 bridge clients and the far end of a socat pty pair as the bridge's serial port; random sizes,
# every byte checked, RSTs and reconnects every second, RSS, open fds and /metrics sampled every second.
# Fails if a byte is lost or differs, if RSS or fds grow after the warm-up, or if a daemon does not exit 0 on
# SIGTERM. --backend NAME runs both daemons on that backend (default: the build's). Ends with
# "soak: N passed, N failed" (one per check).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

seconds=120
connections=10000
backend_flags=()
while [ $# -gt 0 ]; do
  case "$1" in
    --minutes) seconds=$(($2 * 60)); shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    --connections) connections=$2; shift 2 ;;
    --backend) backend_flags=(--backend "$2"); shift 2 ;;
    *) echo "usage: $0 [--minutes N | --seconds N] [--connections N] [--backend NAME]" >&2; exit 2 ;;
  esac
done

build=build/release
work=$(mktemp -d /tmp/emio-soak.XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null; done
  wait 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

{ cmake --preset release && cmake --build --preset release -j 2 --target emio-echo emio-bridge; } >"$work/build.log" 2>&1 ||
  { tail -20 "$work/build.log"; echo "soak: 0 passed, 1 failed"; exit 1; }

# 10,000 clients and as many server sockets: above Debian's default soft limit of 1024. The echo table has
# room for the RSTs the daemon has not seen yet when their clients reconnect (else it turns them away).
ulimit -n "$(ulimit -Hn)"
echo_capacity=$((connections + 1024))

# A free port each (the machine is shared): bind port 0, read it back, release it.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
echo_port=$(free_port)
bridge_port=$(free_port)
metrics_port=$(free_port)

socat pty,raw,echo=0,link="$work/board" pty,raw,echo=0,link="$work/host" 2>"$work/socat.log" &
pids+=($!)
for _ in $(seq 50); do [ -e "$work/board" ] && [ -e "$work/host" ] && break; sleep 0.1; done

"$build/examples/emio-echo" --listen "127.0.0.1:$echo_port" --max-connections "$echo_capacity" "${backend_flags[@]}" >"$work/echo.log" 2>&1 &
echo_pid=$!
pids+=("$echo_pid")
# Buffers big enough that no client of the 64 is slow at the serial rate the load uses: a drop is a failure.
"$build/examples/emio-bridge" --serial "$work/host" --listen "127.0.0.1:$bridge_port" \
  --metrics "127.0.0.1:$metrics_port" --max-clients 96 --client-buffer-bytes 262144 "${backend_flags[@]}" >"$work/bridge.log" 2>&1 &
bridge_pid=$!
pids+=("$bridge_pid")
for _ in $(seq 50); do
  grep -qs listening "$work/echo.log" && grep -qs listening "$work/bridge.log" && break
  sleep 0.1
done

warmup=$((seconds / 5 > 10 ? seconds / 5 : 10))
python3 tests/soak/load.py --echo "127.0.0.1:$echo_port" --bridge "127.0.0.1:$bridge_port" \
  --metrics "127.0.0.1:$metrics_port" --serial "$work/board" --echo-pid "$echo_pid" --bridge-pid "$bridge_pid" \
  --seconds "$seconds" --warmup-seconds "$warmup" --connections "$connections" ${SOAK_VERBOSE:+--verbose} |
  tee "$work/load.log"

stopped() {  # stopped NAME PID: SIGTERM, then its exit code must be 0 within 10 s
  kill -TERM "$2"
  for _ in $(seq 100); do kill -0 "$2" 2>/dev/null || break; sleep 0.1; done
  wait "$2"
  local status=$?
  if [ "$status" -eq 0 ]; then echo "soak-check: $1-exit ok (0 after SIGTERM)"; else
    echo "soak-check: $1-exit FAILED (exit $status after SIGTERM)"; tail -5 "$work/$1.log"; fi
}
# Not in a pipeline: its subshell could not wait for the daemons.
stopped echo "$echo_pid" >>"$work/load.log"
stopped bridge "$bridge_pid" >>"$work/load.log"
grep -E '^soak-check: (echo|bridge)-exit' -A5 "$work/load.log"
grep -E '^emio-echo: stopped' "$work/echo.log" | sed 's/^/soak: /'

passed=$(grep -c '^soak-check: .* ok' "$work/load.log")
failed=$(grep -c '^soak-check: .* FAILED' "$work/load.log")
if [ "$passed" -eq 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi  # the checker died before checking
echo "soak: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
