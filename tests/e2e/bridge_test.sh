#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# End-to-end tests of emio-bridge: a socat pseudo-terminal pair stands in for a board's UART ("board" is
# the board's end, "host" the end the bridge opens); clients are bash /dev/tcp descriptors, socat and curl.
# Usage: bridge_test.sh CASE, with EMIO_BRIDGE (and E2E_ALLOC_PROBE for the heap case) in the environment;
# E2E_BACKEND=NAME runs the case with --backend NAME (ctest runs the build's default backend).
# shellcheck source-path=SCRIPTDIR disable=SC2154  # spawn NAME sets NAME_pid (printf -v)
source "$(dirname "$0")/lib.sh"
: "${EMIO_BRIDGE:?path to emio-bridge}"

uart_runs=0

# The pty pair, and a reader that holds the board's end open and records what the board received.
# Each pair gets fresh link names, so a link left by an earlier pair is never mistaken for this one.
start_uart() {
  uart_runs=$((uart_runs + 1))
  board="$E2E_TMP/board.$uart_runs"
  host="$E2E_TMP/host.$uart_runs"
  spawn uart socat pty,raw,echo=0,link="$board" pty,raw,echo=0,link="$host"
  wait_until "the pty pair" test -e "$board" -a -e "$host"
  spawn board_reader cat "$board"
}

start_bridge() {
  start_uart
  spawn bridge "${BRIDGE_PREFIX[@]}" "$EMIO_BRIDGE" --serial "$host" --baud 115200 --listen 127.0.0.1:0 \
    --metrics 127.0.0.1:0 "${BACKEND_ARGS[@]}" "$@"
  port=$(port_from bridge listening)
  metrics_port=$(port_from bridge metrics)
}
BRIDGE_PREFIX=(env)  # counted_allocations replaces it with the probe's prefix


connect_client() {
  eval "exec $1<>/dev/tcp/127.0.0.1/$port"
}

expect_line() {
  local reply=""
  IFS= read -r -t "$E2E_TIMEOUT_S" -u "$1" reply || fail "nothing arrived on fd $1"
  [ "$reply" = "$2" ] || fail "fd $1 got '$reply' instead of '$2'"
}

board_received() { grep -q "$1" "$E2E_TMP/board_reader.out"; }

serial_bytes_reach_every_client() {
  start_bridge
  connect_client 3
  connect_client 4
  wait_until "two clients counted" metric_is emio_bridge_clients_connected 2
  printf 'from the board\n' >"$board"
  expect_line 3 "from the board"
  expect_line 4 "from the board"
}

client_bytes_reach_the_serial_port() {
  start_bridge
  connect_client 3
  connect_client 4
  printf 'from client three\n' >&3
  printf 'from client four\n' >&4
  wait_until "client three's line on the board" board_received "from client three"
  wait_until "client four's line on the board" board_received "from client four"
}

metrics_count_bytes_each_way_and_name_the_backend() {
  start_bridge
  connect_client 3
  wait_until "one client counted" metric_is emio_bridge_clients_connected 1
  printf '12345678\n' >"$board"
  expect_line 3 "12345678"
  printf 'abcd\n' >&3
  wait_until "the client's line on the board" board_received abcd
  wait_until "9 bytes counted from serial" metric_is emio_bridge_serial_read_bytes_total 9
  wait_until "5 bytes counted to serial" metric_is emio_bridge_serial_written_bytes_total 5
  metrics | grep -E >/dev/null '^emio_bridge_backend_info\{backend="(epoll|uring)"\} 1$' || fail "no backend info: $(metrics)"
  # Not grep -q: curl cut off by grep's early exit fails the pipeline (pipefail, curl exit 23).
  metrics | grep >/dev/null '^# TYPE emio_bridge_serial_read_bytes_total counter$' || fail "no TYPE line"
  metrics
}

clients_past_the_limit_are_closed_and_counted() {
  start_bridge --max-clients 1
  connect_client 3
  wait_until "the first client counted" metric_is emio_bridge_clients_connected 1
  connect_client 4
  local reply="" status=0
  IFS= read -r -t "$E2E_TIMEOUT_S" -u 4 reply || status=$?
  [ "$status" -eq 1 ] || fail "the second client was not closed at once (read status $status, '$reply')"
  metric_is emio_bridge_clients_refused_total 1 || fail "the refusal was not counted"
  printf 'still bridged\n' >"$board"
  expect_line 3 "still bridged"
}

other_paths_than_metrics_get_404() {
  start_bridge
  local code
  code=$(timeout "$E2E_TIMEOUT_S" curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$metrics_port/")
  [ "$code" = 404 ] || fail "GET / answered $code"
  metrics >/dev/null || fail "GET /metrics failed after a 404"
}

# --- The metrics page under slow and hostile clients ---

http_clients=(python3 "$(dirname "$0")/http_clients.py")

# read_http FD: everything the server sends on FD until it closes (bounded).
read_http() { timeout "$E2E_TIMEOUT_S" cat <&"$1" || true; }

metrics_request_with_bare_lf_line_ends_is_answered() {
  start_bridge
  exec 5<>"/dev/tcp/127.0.0.1/$metrics_port"
  printf 'GET /metrics HTTP/1.1\nHost: bridge\n\n' >&5  # the client keeps its side open, waiting
  local reply
  reply=$(read_http 5)
  [[ $reply == "HTTP/1.1 200 OK"* ]] || fail "a request with LF line ends got '${reply:0:40}'"
  grep -q '^emio_bridge_clients_connected 0' <<<"$reply" || fail "no metrics in the answer"
}

metrics_request_past_its_deadline_gets_408_and_is_counted() {
  start_bridge --metrics-timeout-ms 500
  exec 5<>"/dev/tcp/127.0.0.1/$metrics_port"
  printf 'GET /metrics HTTP/1.1\r\nHost: bri' >&5  # and nothing more
  local reply
  reply=$(read_http 5)
  [[ $reply == "HTTP/1.1 408 "* ]] || fail "an unfinished request got '${reply:0:40}' instead of 408"
  wait_until "the slow request counted" metric_is emio_bridge_metrics_slow_requests_total 1
}

# Eight connections dribbling a request head at one byte a second, reopened as soon as they are let go,
# against four sessions: the scrape must still get through while the attack goes on.
metrics_scrape_succeeds_while_slow_clients_dribble_requests() {
  start_bridge
  spawn slowloris "${http_clients[@]}" slowloris "$metrics_port" 8
  wait_until "the slow clients to have been turned away once" grep -q 'closed [1-9]' "$E2E_TMP/slowloris.out"
  wait_until "a scrape during the attack" metrics_ok
  kill -0 "$slowloris_pid" || fail "the slow clients stopped before the scrape"
  wait_until "a slow request counted" metric_above emio_bridge_metrics_slow_requests_total 0
  connect_client 3
  wait_until "the client counted" metric_is emio_bridge_clients_connected 1
  printf 'still bridged\n' >"$board"
  expect_line 3 "still bridged"
}
metrics_ok() { metrics >/dev/null; }

# 500 connections at once against four sessions: every one must get a whole HTTP answer (200, or 503 at
# once; 408 for a session given up to a newcomer), none a reset or an empty reply, and every refusal and
# every slow request is counted.
concurrent_scrapes_beyond_the_sessions_get_503_and_are_counted() {
  start_bridge
  local outcome
  outcome=$(timeout "$((E2E_TIMEOUT_S * 3))" "${http_clients[@]}" burst "$metrics_port" 500) || fail "the burst failed"
  echo "500 concurrent scrapes: $outcome"
  local served refused slow broken
  read -r _ served _ slow _ refused _ broken <<<"$outcome"
  [ "$broken" -eq 0 ] || fail "$broken scrapes got no whole answer ($outcome)"
  [ $((refused + slow)) -gt 0 ] || fail "no scrape was turned away: the sessions never filled ($outcome)"
  [ "$served" -gt 0 ] || fail "no scrape was served ($outcome)"
  wait_until "the refusals counted" metric_is emio_bridge_metrics_requests_refused_total "$refused"
  metric_is emio_bridge_metrics_slow_requests_total "$slow" || fail "slow requests: $(metric \
    emio_bridge_metrics_slow_requests_total), expected $slow"
}

# --- Half-closed clients ---

# A client that sends its last command and half-closes, as `nc -N` does (socat: end of stdin, then it
# reads for up to -t seconds); what it receives lands in half_closer.out.
spawn_half_closing_client() {
  spawn half_closer socat -t "$E2E_TIMEOUT_S" - "TCP:127.0.0.1:$port" < <(printf '%s\n' "$1")
}

# The linger: longer than any wait here, so that a slow run (qemu) cannot see it pass.
long_linger=(--half-close-linger-ms "$((E2E_TIMEOUT_S * 2000))")

half_closed_client_still_receives_the_boards_reply() {
  start_bridge "${long_linger[@]}"
  spawn_half_closing_client "status?"
  wait_until "the command on the board" board_received "status?"
  wait_until "the half-close seen by the bridge" metric_is emio_bridge_client_half_closes_total 1
  printf 'status: all good\n' >"$board"  # the board answers after the client half-closed
  wait_until "the reply at the half-closed client" grep -q "status: all good" "$E2E_TMP/half_closer.out"
  metric_is emio_bridge_clients_connected 1 || fail "the half-closed client was closed within the linger"
}

half_closed_client_is_closed_when_the_linger_passes() {
  start_bridge --half-close-linger-ms 300
  spawn_half_closing_client "last command"
  wait_until "the linger's end counted" metric_is emio_bridge_half_close_lingers_expired_total 1
  metric_is emio_bridge_clients_connected 0 || fail "the client is still connected after the linger"
  wait_exit "$half_closer_pid"  # it reads end of stream: socat ends, well before its own -t
  [ "$exit_code" -eq 0 ] || fail "the half-closed client exited $exit_code"
}

# A full table: a client that only lingers gives its slot up to a new one instead of it being refused.
lingering_client_gives_its_slot_to_a_new_client() {
  start_bridge --max-clients 1 "${long_linger[@]}"
  spawn_half_closing_client "bye"
  wait_until "the half-close seen by the bridge" metric_is emio_bridge_client_half_closes_total 1
  connect_client 3
  wait_until "the new client counted" metric_is emio_bridge_clients_accepted_total 2
  metric_is emio_bridge_clients_refused_total 0 || fail "the new client was refused"
  metric_is emio_bridge_half_close_lingers_expired_total 0 || fail "the linger ended instead"
  printf 'to the new client\n' >"$board"
  expect_line 3 "to the new client"
  wait_exit "$half_closer_pid"  # closed to make room: socat reads end of stream and ends
}

# --- Memory promised at start-up ---

# 64 clients with 512 KiB each: 32 MiB the bridge must hold from the start, not as the buffers fill.
reserved_memory_is_resident_and_reported_at_startup() {
  start_bridge --max-clients 64 --client-buffer-bytes 524288
  local line reserved rss_kib
  line=$(grep -m 1 'reserved [0-9]* bytes for 64 clients$' "$E2E_TMP/bridge.out") || fail "no 'reserved' line"
  echo "$line"
  [[ $line =~ reserved\ ([0-9]+)\ bytes ]] && reserved=${BASH_REMATCH[1]}
  [ "$reserved" -ge $((64 * 524288)) ] || fail "$reserved bytes reserved for 32 MiB of buffers"
  metric_is emio_bridge_reserved_bytes "$reserved" || fail "the gauge says $(metric emio_bridge_reserved_bytes)"
  rss_kib=$(awk '$1 == "VmRSS:" { print $2 }' "/proc/$bridge_pid/status")
  echo "resident: $rss_kib KiB"
  [ $((rss_kib * 1024)) -ge $((64 * 524288)) ] || fail "only $rss_kib KiB resident for $reserved bytes reserved"
}

# Locked, the buffers show in VmLck. Where RLIMIT_MEMLOCK is below 320 KiB and the user lacks
# CAP_IPC_LOCK (old kernels default to 64 KiB), the lock is refused: then one line and exit 2 instead.
memory_is_locked_on_request() {
  local lockable=yes
  [ "$(id -u)" -eq 0 ] || [ "$(ulimit -l)" = unlimited ] || [ "$(ulimit -l)" -ge 320 ] || lockable=no
  if [ "$lockable" = no ]; then
    start_uart
    expect_usage_error "$EMIO_BRIDGE" --serial "$host" --listen 127.0.0.1:0 --metrics 127.0.0.1:0 --max-clients 4 \
      --client-buffer-bytes 65536 --lock-memory
    return
  fi
  start_bridge --max-clients 4 --client-buffer-bytes 65536 --lock-memory
  grep -q 'reserved [0-9]* bytes for 4 clients, locked$' "$E2E_TMP/bridge.out" || fail "no 'locked' start-up line"
  local locked_kib
  locked_kib=$(awk '$1 == "VmLck:" { print $2 }' "/proc/$bridge_pid/status")
  echo "locked: $locked_kib KiB"
  # The sanitizers' runtimes make mlock a no-op that returns 0: there only the start-up line can be checked.
  if [ -n "${E2E_SANITIZED:-}" ]; then return; fi
  [ "$locked_kib" -ge 256 ] || fail "only $locked_kib KiB locked for 256 KiB of buffers"
}

memory_above_the_cap_is_refused_with_one_line() {
  start_uart
  local good=(--serial "$host" --baud 115200 --listen 127.0.0.1:0 --metrics 127.0.0.1:0)
  expect_usage_error "$EMIO_BRIDGE" "${good[@]}" --max-clients 1024 --client-buffer-bytes 16777216  # 16 GiB
  expect_usage_error "$EMIO_BRIDGE" "${good[@]}" --max-clients 64 --client-buffer-bytes 65536 --memory-cap-mib 2
}

# Connects a client that never reads (fd 3) and sends 16 MB from the board: more than the kernel's
# socket buffers and the client's 4 KiB bounded buffer hold, so the slow-client policy must act.
flood_a_slow_client() {
  connect_client 3
  wait_until "$1 clients counted" metric_is emio_bridge_clients_connected "$1"
  head -c 16000000 /dev/zero >"$board"
}

slow_client_bytes_are_dropped_and_counted() {
  start_bridge --slow-client drop --client-buffer-bytes 4096
  spawn fast_client socat -u "TCP:127.0.0.1:$port" STDOUT
  flood_a_slow_client 2
  wait_until "drops counted" metric_above emio_bridge_slow_client_dropped_bytes_total 0
  metric_is emio_bridge_clients_connected 2 || fail "the drop policy disconnected a client"
  metric_is emio_bridge_slow_client_disconnects_total 0 || fail "a disconnect was counted"
  wait_until "the fast client to receive" test -s "$E2E_TMP/fast_client.out"
}

slow_client_is_disconnected_and_counted() {
  start_bridge --slow-client disconnect --client-buffer-bytes 4096
  flood_a_slow_client 1
  wait_until "a disconnect counted" metric_is emio_bridge_slow_client_disconnects_total 1
  metric_is emio_bridge_clients_connected 0 || fail "the slow client is still connected"
}

sighup_reopens_the_serial_port() {
  start_bridge
  connect_client 3
  wait_until "one client counted" metric_is emio_bridge_clients_connected 1
  kill -HUP "$bridge_pid"
  wait_until "the reopen counted" metric_is emio_bridge_serial_reopens_total 1
  printf 'after the reopen\n' >"$board"
  expect_line 3 "after the reopen"
  printf 'client after the reopen\n' >&3
  wait_until "the client's line on the board" board_received "client after the reopen"
}

sigterm_exits_zero() {
  start_bridge
  connect_client 3
  wait_until "one client counted" metric_is emio_bridge_clients_connected 1
  stop_with_sigterm "$bridge_pid" "emio-bridge"
}

# systemd-socket-activate holds both sockets (named as in packaging/systemd/emio-bridge*.socket) and
# execs the bridge on the first client: no --listen, no --metrics.
serves_on_the_sockets_systemd_passes() {
  start_uart

  spawn_socket_activator 2 --fdname=clients:metrics "$EMIO_BRIDGE" --serial "$host" --baud 115200
  port=${activator_ports[0]} metrics_port=${activator_ports[1]}
  connect_client 3
  wait_until "the bridge to start" grep -q "listening on 127.0.0.1:$port" "$E2E_TMP/activate.out"
  wait_until "one client counted" metric_is emio_bridge_clients_connected 1
  printf 'via systemd\n' >"$board"
  expect_line 3 "via systemd"
  stop_with_sigterm "$activate_pid" "the activated emio-bridge"
}

# --- Hostile conditions (run on every backend) ---

# Out of fds, accept fails with EMFILE and the client stays queued, so the listener stays readable: the
# bridge must back off instead of re-arming at once (before: 87-100 % CPU and a million log lines a
# second), keep bridging for its clients, and take the queued client once fds are back.
out_of_fds_backs_off_and_recovers() {
  start_bridge
  connect_client 3
  wait_until "one client counted" metric_is emio_bridge_clients_connected 1
  run_out_of_fds "$bridge_pid"
  exec 4<>"/dev/tcp/127.0.0.1/$port" 5<>"/dev/tcp/127.0.0.1/$port"
  exec 6<>"/dev/tcp/127.0.0.1/$metrics_port"  # a scrape queued on the metrics listener too
  sleep 0.5  # the queued clients meet EMFILE from here on
  expect_quiet_back_off "$bridge_pid" "$E2E_TMP/bridge.out" 6  # at most 1 line a second per listener
  printf 'while out of fds\n' >"$board"
  expect_line 3 "while out of fds"
  restore_fds "$bridge_pid"
  wait_until "the queued clients accepted" metric_is emio_bridge_clients_connected 3
  metric_above emio_bridge_accept_failures_total 0 || fail "the failed accepts were not counted"
  printf 'after recovery\n' >"$board"
  expect_line 4 "after recovery"
  expect_line 5 "after recovery"
  printf 'GET /metrics HTTP/1.0\r\n\r\n' >&6
  local status_line=""
  IFS= read -r -t "$E2E_TIMEOUT_S" -u 6 status_line || fail "the queued scrape got no answer"
  [[ "$status_line" == "HTTP/1.0 200"* || "$status_line" == "HTTP/1.1 200"* ]] || fail "the queued scrape got '$status_line'"
}

sigpipe_is_ignored() {
  start_bridge
  connect_client 3
  wait_until "one client counted" metric_is emio_bridge_clients_connected 1
  kill -PIPE "$bridge_pid"
  printf 'after SIGPIPE\n' >"$board"
  expect_line 3 "after SIGPIPE"
  stop_with_sigterm "$bridge_pid" "emio-bridge"
}

# The first TERM or INT stops the bridge; the rest of the storm (HUP reopens the port) must not kill it
# by a default action while it cleans up. Exit 0, every time.
a_signal_storm_exits_zero_every_time() {
  local run signal_number
  for run in 1 2 3; do
    start_bridge
    for signal_number in HUP TERM HUP INT TERM HUP INT TERM; do kill -"$signal_number" "$bridge_pid" 2>/dev/null || true; done
    wait_exit "$bridge_pid"
    [ "$exit_code" -eq 0 ] || fail "run $run: exit $exit_code after a signal storm"
    grep -q 'stopped' "$E2E_TMP/bridge.out" || fail "run $run: no 'stopped' line"
    kill "$uart_pid" "$board_reader_pid" 2>/dev/null || true
  done
}

# --max-clients beyond RLIMIT_NOFILE's hard limit is refused at start-up, naming the limit.
max_clients_beyond_the_fd_limit_are_refused() {
  start_uart
  expect_usage_error prlimit --nofile=64:64 "$EMIO_BRIDGE" --serial "$host" --baud 115200 --listen 127.0.0.1:0 \
    --metrics 127.0.0.1:0 --max-clients 100
  grep -q -- '--max-clients 100 needs' "$E2E_TMP/usage.err" || fail "the refusal does not name the flag as given"
  grep -q 'hard limit is 64' "$E2E_TMP/usage.err" || fail "the refusal does not name the limit"
}

# A path that is no tty says why in the error's own name (before: "errno").
a_directory_as_the_serial_port_is_named_eisdir() {
  expect_usage_error "$EMIO_BRIDGE" --serial "$E2E_TMP" --baud 115200 --listen 127.0.0.1:0 --metrics 127.0.0.1:0
  grep -q 'EISDIR' "$E2E_TMP/usage.err" || fail "the error does not say EISDIR: $(cat "$E2E_TMP/usage.err")"
}

bad_command_lines_exit_2_with_one_line() {
  start_uart
  local good=(--serial "$host" --baud 115200 --listen 127.0.0.1:0 --metrics 127.0.0.1:0)
  expect_usage_error "$EMIO_BRIDGE"
  expect_usage_error "$EMIO_BRIDGE" "${good[@]}" --frobnicate
  expect_usage_error "$EMIO_BRIDGE" --serial "$E2E_TMP/no-such-tty" --baud 115200 --listen 127.0.0.1:0 \
    --metrics 127.0.0.1:0
  expect_usage_error "$EMIO_BRIDGE" --serial "$host" --baud 20000000 --listen 127.0.0.1:0 --metrics 127.0.0.1:0
  expect_usage_error "$EMIO_BRIDGE" --serial "$host" --baud fast --listen 127.0.0.1:0 --metrics 127.0.0.1:0
  expect_usage_error "$EMIO_BRIDGE" --serial "$host" --baud 115200 --listen 300.1.1.1:80 --metrics 127.0.0.1:0
  expect_usage_error "$EMIO_BRIDGE" --serial "$host" --baud 115200 --listen 127.0.0.1:0 --metrics nowhere
  expect_usage_error "$EMIO_BRIDGE" --serial "$host" --baud 115200 --listen 127.0.0.1:0
  expect_usage_error "$EMIO_BRIDGE" "${good[@]}" --slow-client maybe
  expect_usage_error "$EMIO_BRIDGE" "${good[@]}" --backend carrier-pigeon
  expect_usage_error "$EMIO_BRIDGE" "${good[@]}" --half-close-linger-ms soon
  expect_usage_error "$EMIO_BRIDGE" "${good[@]}" --metrics-timeout-ms 0
  expect_usage_error "$EMIO_BRIDGE" "${good[@]}" --memory-cap-mib 0
  expect_usage_error "$EMIO_BRIDGE" "${good[@]}" --data-bits 9
  expect_usage_error "$EMIO_BRIDGE" "${good[@]}" --parity mark
  expect_usage_error "$EMIO_BRIDGE" "${good[@]}" --stop-bits 3
  expect_usage_error "$EMIO_BRIDGE" "${good[@]}" --rtscts --rs485
  # What the pty (socat's) cannot do: parity and RS-485, refused by the device (ENOTSUP).
  expect_usage_error "$EMIO_BRIDGE" "${good[@]}" --parity even
  expect_usage_error "$EMIO_BRIDGE" "${good[@]}" --rs485
}

# As for emio-echo: an idle run and a loaded run (clients both ways, a slow client, scrapes, a SIGHUP
# reopen) must make exactly as many heap allocations.
does_not_allocate_after_startup_under_load() {
  counted_allocations "$E2E_TMP/idle.count"
  BRIDGE_PREFIX=("${COUNTED[@]}")
  start_bridge --slow-client drop
  stop_with_sigterm "$bridge_pid" "idle run"
  kill -TERM "$uart_pid" "$board_reader_pid"

  counted_allocations "$E2E_TMP/load.count"
  BRIDGE_PREFIX=("${COUNTED[@]}")
  start_bridge --slow-client drop
  connect_client 3
  connect_client 4  # the slow one
  wait_until "two clients counted" metric_is emio_bridge_clients_connected 2
  spawn fast_reader cat <&3  # drains what the board sent, until the bridge closes the connection
  local round
  for round in 1 2 3 4 5; do
    head -c 3000000 /dev/zero >"$board"
    head -c 100000 /dev/zero >&3
    printf 'line %s\n' "$round" | timeout "$E2E_TIMEOUT_S" socat -t 1 - "TCP:127.0.0.1:$port" >/dev/null || true
    metrics >/dev/null
  done
  kill -HUP "$bridge_pid"
  wait_until "the reopen counted" metric_is emio_bridge_serial_reopens_total 1
  stop_with_sigterm "$bridge_pid" "loaded run"
  expect_same_allocations "$E2E_TMP/idle.count" "$E2E_TMP/load.count"
}

"$1"
