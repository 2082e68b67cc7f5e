#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The main job: build emio-bridge (release preset), stand a socat pseudo-terminal pair in for a board's
# UART, run emio-bridge on one end, drive traffic both ways with real clients over 127.0.0.1, print what
# was seen and the /metrics output, stop the bridge with SIGTERM and require exit 0.
# Bounded (every wait gives up after E2E_TIMEOUT_S, 60 s by default); every process it starts is killed
# on any exit, by the end-to-end tests' helpers (tests/e2e/lib.sh), which it shares.
# To bridge a real UART instead, see docs/getting-started.md (emio-bridge --serial /dev/ttyUSB0 ...).
# shellcheck disable=SC2154  # spawn NAME sets NAME_pid (printf -v)
repo=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=../tests/e2e/lib.sh
source "$repo/tests/e2e/lib.sh"
build_dir=${MAIN_JOB_BUILD_DIR:-"$repo/build/release"}

step() { printf '\n== %s\n' "$*"; }
# wait_until runs its command again on every poll, so the size must be read inside it, not passed as "$(...)".
size_at_least() { [ "$(stat -c %s "$1")" -ge "$2" ]; }

# Only emio-bridge is built, and quietly: the compiler's output goes to a log, shown only on failure.
step "build emio-bridge (release preset, $build_dir)"
build_log="$build_dir/main-job-build.log"
mkdir -p "$build_dir"
if ! { (cd "$repo" && cmake --preset release -B "$build_dir") && cmake --build "$build_dir" --target emio-bridge; } \
  >"$build_log" 2>&1; then
  tail -n 40 "$build_log"
  fail "the build failed (whole log: $build_log)"
fi
echo "built $build_dir/examples/emio-bridge"

step "pseudo-terminal pair (the board's UART)"
board="$E2E_TMP/board"  # the board's end: what the firmware would write and read
uart="$E2E_TMP/uart"    # the end emio-bridge opens, as it would open /dev/ttyUSB0
spawn socat socat pty,raw,echo=0,link="$board" pty,raw,echo=0,link="$uart"
wait_until "the pty pair" test -e "$board" -a -e "$uart"
spawn board cat "$board"
echo "board end: $(readlink "$board"), bridge end: $(readlink "$uart")"

step "emio-bridge"
spawn bridge "$build_dir/examples/emio-bridge" --serial "$uart" --baud 115200 --listen 127.0.0.1:0 \
  --metrics 127.0.0.1:0 --slow-client drop
port=$(port_from bridge listening)
metrics_port=$(port_from bridge metrics)
cat "$E2E_TMP/bridge.out"
echo "(backend: the poller chosen at start, io_uring where the kernel allows it, else epoll;"
echo " reserved: the client table and buffers, allocated and touched once at start, never grown)"

step "two TCP clients (bash /dev/tcp and socat)"
exec 3<>"/dev/tcp/127.0.0.1/$port"
spawn socat_client socat -u "TCP:127.0.0.1:$port" STDOUT
wait_until "two clients" metric_is emio_bridge_clients_connected 2

step "board -> clients"
printf 'hello from the board\n' >"$board"
IFS= read -r -t "$E2E_TIMEOUT_S" -u 3 line || fail "client 1 received nothing"
echo "client 1 (bash) received: $line"
spawn client1 cat <&3  # keeps reading, so client 1 is never a slow client
wait_until "client 2 to receive" grep -q 'hello from the board' "$E2E_TMP/socat_client.out"
echo "client 2 (socat) received: $(cat "$E2E_TMP/socat_client.out")"

step "clients -> board"
printf 'hello from client 1\n' >&3
# nc -N half-closes after its line and waits for the bridge to close: the bridge keeps sending to it (the
# board's reply must reach it) for --half-close-linger-ms, 5 s by default.
echo "client 2 (nc -N) sends one line and half-closes; the bridge lingers 5 s for the board's reply"
printf 'hello from client 2 (nc)\n' | timeout "$E2E_TIMEOUT_S" nc -N 127.0.0.1 "$port" >/dev/null
wait_until "the board to receive client 1" grep -q 'hello from client 1' "$E2E_TMP/board.out"
wait_until "the board to receive client 2" grep -q 'hello from client 2' "$E2E_TMP/board.out"
echo "board received:"
sed 's/^/  /' "$E2E_TMP/board.out"

step "bulk: 1 MB from the board, 256 KB from a client"
head -c 1000000 /dev/urandom >"$E2E_TMP/bulk.up"
head -c 262144 /dev/urandom >"$E2E_TMP/bulk.down"
cat "$E2E_TMP/bulk.up" >"$board"
cat "$E2E_TMP/bulk.down" >&3
wait_until "the bulk from the board to be counted" metric_is emio_bridge_serial_read_bytes_total $((21 + 1000000))
wait_until "the bulk from the client to be counted" metric_is emio_bridge_serial_written_bytes_total \
  $((20 + 25 + 262144))
if metric_is emio_bridge_slow_client_dropped_bytes_total 0; then
  wait_until "client 1 to receive the bulk" size_at_least "$E2E_TMP/client1.out" 1000000
  wait_until "client 2 to receive the bulk" size_at_least "$E2E_TMP/socat_client.out" 1000021
  wait_until "the board to receive the bulk" size_at_least "$E2E_TMP/board.out" $((45 + 262144))
  cmp -s "$E2E_TMP/bulk.up" "$E2E_TMP/client1.out" || fail "client 1 received other bytes"
  cmp -s "$E2E_TMP/bulk.up" <(tail -c 1000000 "$E2E_TMP/socat_client.out") || fail "client 2 received other bytes"
  cmp -s "$E2E_TMP/bulk.down" <(tail -c 262144 "$E2E_TMP/board.out") || fail "the board received other bytes"
  echo "client 1 and client 2 each received the 1 MB unchanged; the board received the 256 KB unchanged"
else
  echo "a client was slow and the drop policy dropped bytes (see the metrics): contents not compared"
fi

step "GET /metrics (the counters, without their # HELP and # TYPE lines)"
metrics | grep -v '^#'
echo "(clients_connected: connected now (bash and socat); clients_accepted_total: every client since start,"
echo " nc included, which half-closed and was closed when its linger expired)"

step "SIGTERM"
stop_with_sigterm "$bridge_pid" "emio-bridge"
tail -n 1 "$E2E_TMP/bridge.out"
echo "(its stop line: the bytes each way and the clients accepted since start)"
echo "emio-bridge exited 0"
echo
echo "main-job: OK"
