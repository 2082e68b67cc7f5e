#!/usr/bin/env bash
# The main job: build everything (release preset), stand a socat pseudo-terminal pair in for a board's
# UART, run emio-bridge on one end, drive traffic both ways with real clients over 127.0.0.1, print what
# was seen and the /metrics output, stop the bridge with SIGTERM and require exit 0.
# Bounded in time (MAIN_JOB_TIMEOUT_S per wait); every process it starts is killed on any exit.
# To bridge a real UART instead, see docs/getting-started.md (emio-bridge --serial /dev/ttyUSB0 ...).
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
timeout_s=${MAIN_JOB_TIMEOUT_S:-60}
build_dir=${MAIN_JOB_BUILD_DIR:-"$repo/build/release"}
work=$(mktemp -d "${TMPDIR:-/tmp}/emio-main-job.XXXXXX")
pids=()

cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

step() { printf '\n== %s\n' "$*"; }
die() {
  echo "main-job: FAILED: $*" >&2
  [ -s "$work/bridge.err" ] && { echo "--- emio-bridge stderr" >&2; cat "$work/bridge.err" >&2; }
  exit 1
}
wait_for() {
  local description=$1 deadline=$((SECONDS + timeout_s))
  shift
  until "$@" 2>/dev/null; do
    [ "$SECONDS" -lt "$deadline" ] || die "timed out waiting for $description"
    sleep 0.05
  done
}
background() {
  local name=$1
  shift
  "$@" <&0 >"$work/$name.out" 2>"$work/$name.err" &
  pids+=("$!")
  printf -v "${name}_pid" '%s' "$!"
}
printed_port() { sed -n "s/.*$1 on .*:\([0-9][0-9]*\)\$/\1/p" "$work/bridge.out" | head -n 1; }
metrics() { timeout "$timeout_s" curl -sf "http://127.0.0.1:$metrics_port/metrics"; }
metric() { metrics | awk -v name="$1" '$1 == name { print $2 }'; }
metric_is() { [ "$(metric "$1")" = "$2" ]; }

step "build (release preset)"
"$repo/scripts/install-deps.sh"
(cd "$repo" && cmake --preset release -B "$build_dir" >/dev/null)
cmake --build "$build_dir"
bridge="$build_dir/examples/emio-bridge"

step "pseudo-terminal pair (the board's UART)"
board="$work/board"  # the board's end: what the firmware would write and read
uart="$work/uart"    # the end emio-bridge opens, as it would open /dev/ttyUSB0
background socat socat pty,raw,echo=0,link="$board" pty,raw,echo=0,link="$uart"
wait_for "the pty pair" test -e "$board" -a -e "$uart"
background board cat "$board"
echo "board end: $(readlink "$board"), bridge end: $(readlink "$uart")"

step "emio-bridge"
background bridge "$bridge" --serial "$uart" --baud 115200 --listen 127.0.0.1:0 --metrics 127.0.0.1:0 \
  --slow-client drop
wait_for "emio-bridge to listen" grep -q 'metrics on ' "$work/bridge.out"
cat "$work/bridge.out"
port=$(printed_port listening)
metrics_port=$(printed_port metrics)

step "two TCP clients (bash /dev/tcp and socat)"
exec 3<>"/dev/tcp/127.0.0.1/$port"
background socat_client socat -u "TCP:127.0.0.1:$port" STDOUT
wait_for "two clients" metric_is emio_bridge_clients_connected 2

step "board -> clients"
printf 'hello from the board\n' >"$board"
IFS= read -r -t "$timeout_s" -u 3 line || die "client 1 received nothing"
echo "client 1 (bash) received: $line"
background client1 cat <&3  # keeps reading, so client 1 is never a slow client
wait_for "client 2 to receive" grep -q 'hello from the board' "$work/socat_client.out"
echo "client 2 (socat) received: $(cat "$work/socat_client.out")"

step "clients -> board"
printf 'hello from client 1\n' >&3
printf 'hello from client 2 (nc)\n' | timeout "$timeout_s" nc -N 127.0.0.1 "$port" >/dev/null
wait_for "the board to receive client 1" grep -q 'hello from client 1' "$work/board.out"
wait_for "the board to receive client 2" grep -q 'hello from client 2' "$work/board.out"
echo "board received:"
sed 's/^/  /' "$work/board.out"

step "bulk: 1 MB from the board, 256 KB from a client"
head -c 1000000 /dev/urandom >"$work/bulk.up"
head -c 262144 /dev/urandom >"$work/bulk.down"
head -c 1000000 "$work/bulk.up" >"$board"
cat "$work/bulk.down" >&3
wait_for "the bulk from the board to be counted" metric_is emio_bridge_serial_read_bytes_total \
  $((21 + 1000000))
wait_for "the bulk from the client to be counted" metric_is emio_bridge_serial_written_bytes_total \
  $((20 + 25 + 262144))

size_of() { stat -c %s "$1"; }
if metric_is emio_bridge_slow_client_dropped_bytes_total 0; then
  wait_for "client 1 to receive the bulk" test "$(size_of "$work/client1.out")" -ge 1000000
  wait_for "client 2 to receive the bulk" test "$(size_of "$work/socat_client.out")" -ge 1000021
  wait_for "the board to receive the bulk" test "$(size_of "$work/board.out")" -ge $((45 + 262144))
  cmp -s "$work/bulk.up" "$work/client1.out" || die "client 1 received other bytes"
  cmp -s "$work/bulk.up" <(tail -c 1000000 "$work/socat_client.out") || die "client 2 received other bytes"
  cmp -s "$work/bulk.down" <(tail -c 262144 "$work/board.out") || die "the board received other bytes"
  echo "client 1 and client 2 each received the 1 MB unchanged; the board received the 256 KB unchanged"
else
  echo "a client was slow and the drop policy dropped bytes (see the metrics): contents not compared"
fi

step "GET /metrics"
metrics

step "SIGTERM"
kill -TERM "$bridge_pid"
code=0
wait "$bridge_pid" || code=$?
[ "$code" -eq 0 ] || die "emio-bridge exited $code after SIGTERM"
tail -n +5 "$work/bridge.out"
echo "emio-bridge exited 0"
echo
echo "main-job: OK"
