#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# End-to-end tests of emio-echo with real clients (socat, bash's /dev/tcp) over 127.0.0.1.
# Usage: echo_test.sh CASE, with EMIO_ECHO (and E2E_ALLOC_PROBE for the heap case) in the environment.
# shellcheck source-path=SCRIPTDIR disable=SC2154  # spawn NAME sets NAME_pid (printf -v)
source "$(dirname "$0")/lib.sh"
: "${EMIO_ECHO:?path to emio-echo}"

start_echo() {
  spawn echo "$EMIO_ECHO" --listen 127.0.0.1:0 "${BACKEND_ARGS[@]}" "$@"
  port=$(port_from echo listening)
}

# Opens a connection on file descriptor $1 and checks that it echoes.
open_client() {
  eval "exec $1<>/dev/tcp/127.0.0.1/$port"
  expect_echo "$1" "hello from fd $1"
}

# Sends one line on fd $1 and requires the same line back.
expect_echo() {
  local reply=""
  printf '%s\n' "$2" >&"$1"
  IFS= read -r -t "$E2E_TIMEOUT_S" -u "$1" reply || fail "no echo on fd $1"
  [ "$reply" = "$2" ] || fail "fd $1 got '$reply' instead of '$2'"
}

prints_the_backend_in_use_on_startup() {
  start_echo
  wait_until "the backend line" grep -Eq '^emio-echo: backend (epoll|uring|uring-sqpoll)$' "$E2E_TMP/echo.out"
}

# serves_on_the_backend_named_by_the_flag NAME EXPECTED: --backend NAME serves, and the program says it runs
# EXPECTED (tests/e2e/CMakeLists.txt works out which name that is).
serves_on_the_backend_named_by_the_flag() {
  local backend=$1 expected=$2
  start_echo --backend "$backend"
  wait_until "the backend line" grep -q "^emio-echo: backend ${expected}\$" "$E2E_TMP/echo.out"
  [ "$(exchange "$port" "on $backend")" = "on $backend" ] || fail "no echo on $backend"
}

several_clients_each_get_their_own_bytes_back() {
  start_echo
  local client clients=()
  for client in 1 2 3 4 5 6; do
    head -c $((client * 20000)) /dev/urandom >"$E2E_TMP/sent.$client"
    timeout "$E2E_TIMEOUT_S" socat -t "$E2E_TIMEOUT_S" - "TCP:127.0.0.1:$port" \
      <"$E2E_TMP/sent.$client" >"$E2E_TMP/received.$client" &
    clients+=("$!")
  done
  wait "${clients[@]}" || fail "a client failed"
  for client in 1 2 3 4 5 6; do
    cmp -s "$E2E_TMP/sent.$client" "$E2E_TMP/received.$client" || fail "client $client got other bytes back"
  done
}

connections_past_the_limit_are_closed_and_existing_ones_keep_working() {
  start_echo --max-connections 2
  open_client 3
  open_client 4
  exec 5<>"/dev/tcp/127.0.0.1/$port"
  local reply="" status=0
  IFS= read -r -t "$E2E_TIMEOUT_S" -u 5 reply || status=$?
  [ "$status" -ne 0 ] || fail "the third connection was served: '$reply'"
  [ "$status" -le 128 ] || fail "the third connection was left hanging instead of closed"
  expect_echo 3 "still here"
  expect_echo 4 "me too"
  exec 3>&- 5>&-
  wait_until "a slot freed by a closed client is reused" bash -c "exec 6<>/dev/tcp/127.0.0.1/$port \
    && printf 'again\n' >&6 && IFS= read -r -t 5 -u 6 reply && [ \"\$reply\" = again ]"
}

sigterm_closes_every_connection_and_exits_zero() {
  start_echo
  open_client 3
  open_client 4
  stop_with_sigterm "$echo_pid" "emio-echo"
  local rest
  rest=$(timeout "$E2E_TIMEOUT_S" cat <&3) || fail "connection 3 was not closed"
  [ -z "$rest" ] || fail "connection 3 received '$rest' after SIGTERM"
}

bad_command_lines_exit_2_with_one_line() {
  expect_usage_error "$EMIO_ECHO"
  expect_usage_error "$EMIO_ECHO" --listen 127.0.0.1:0 --frobnicate
  expect_usage_error "$EMIO_ECHO" --listen not-an-address
  expect_usage_error "$EMIO_ECHO" --listen 127.0.0.1:99999
  expect_usage_error "$EMIO_ECHO" --listen 127.0.0.1:0 --max-connections lots
  expect_usage_error "$EMIO_ECHO" --listen 127.0.0.1:0 --max-connections 0
  expect_usage_error "$EMIO_ECHO" --listen 127.0.0.1:0 --backend carrier-pigeon
  expect_usage_error "$EMIO_ECHO" --listen 127.0.0.1:0 --coop-budget 70000
  expect_usage_error "$EMIO_ECHO" --listen
  expect_usage_error "$EMIO_ECHO" stray-word
}

# The idle run and the loaded run must make exactly as many heap allocations: whatever start-up and
# shutdown allocate is the same in both, so any difference was caused by clients, traffic or the limit.
does_not_allocate_after_startup_under_load() {
  counted_allocations "$E2E_TMP/idle.count"
  spawn echo "${COUNTED[@]}" "$EMIO_ECHO" --listen 127.0.0.1:0 --max-connections 8
  port=$(port_from echo listening)
  stop_with_sigterm "$echo_pid" "idle run"

  counted_allocations "$E2E_TMP/load.count"
  spawn echo "${COUNTED[@]}" "$EMIO_ECHO" --listen 127.0.0.1:0 --max-connections 8
  port=$(port_from echo listening)
  head -c 200000 /dev/urandom >"$E2E_TMP/payload"
  local client clients
  for _ in 1 2 3; do
    clients=()
    for client in 1 2 3 4 5 6 7 8 9 10 11 12; do  # 12 clients against a limit of 8: some are turned away
      timeout "$E2E_TIMEOUT_S" socat -t 5 - "TCP:127.0.0.1:$port" <"$E2E_TMP/payload" >/dev/null 2>&1 &
      clients+=("$!")
    done
    wait "${clients[@]}" || true  # a client turned away may see a reset; the server must not care
  done
  [ "$(exchange "$port" ping)" = ping ] || fail "the loaded server stopped echoing"
  stop_with_sigterm "$echo_pid" "loaded run"
  expect_same_allocations "$E2E_TMP/idle.count" "$E2E_TMP/load.count"
}

# --- Hostile load (run on every backend) ---

# A client that keeps the server's reads full and its writes succeeding must not starve the others: the
# executor's cooperative budget makes its task yield (before it, a probe's p99 was 0.2-2 s).
one_flooding_client_does_not_starve_the_others() {
  local attempt result p99_ms limit_ms=$((100 * $(slowdown)))
  # Up to three floods: one that never keeps a task busy for a whole budget (the server's writes met a
  # full socket now and then: seen once under ASan with SQPOLL) proves nothing about starvation, and the
  # next one is tried. The p99 bound holds for every one.
  for attempt in 1 2 3; do
    start_echo
    result=$(timeout "$E2E_TIMEOUT_S" python3 "$(dirname "$0")/load_probes.py" flood-latency "$port" 3) ||
      fail "the flood probe failed: $result"
    echo "flood $attempt: $result"
    p99_ms=$(awk '{ printf "%d", $5 }' <<<"$result")
    [ "$p99_ms" -lt "$limit_ms" ] || fail "a probe's p99 round trip was ${p99_ms} ms during the flood (limit ${limit_ms} ms)"
    # With --coop-budget 0 a flood that keeps a task busy makes the p99 0.2-13 s.
    stop_with_sigterm "$echo_pid" "emio-echo"
    if grep -Eq ' [1-9][0-9]* cooperative yields$' "$E2E_TMP/echo.out"; then return 0; fi
    # On io_uring the streams read through completions: a task waits for each receive's completion (one
    # per stream and turn), so no flood keeps it busy and more floods would only repeat the p99 check.
    if grep -q '^emio-echo: backend uring' "$E2E_TMP/echo.out"; then
      echo "NOTE: on io_uring no flood keeps a task busy (a receive completes once per turn); the p99 bound was checked"
      return 0
    fi
    echo "flood $attempt never used a task's budget up: nothing was starved, so it proves nothing"
  done
  echo "NOTE: no flood kept a task busy on this build; only the p99 bound was checked"
}

# Storm clients that connect and close at once must not fill the table and turn real clients away: the
# accept loop waits for the closed ones to free their slots (before: about 1% of real clients refused).
an_accept_storm_turns_no_real_client_away() {
  start_echo
  local result refused
  result=$(timeout "$E2E_TIMEOUT_S" python3 "$(dirname "$0")/load_probes.py" accept-storm "$port" 3) ||
    fail "the storm probe failed: $result"
  echo "$result"
  refused=$(awk '{ print $6 }' <<<"$result")
  [ "$refused" -eq 0 ] || fail "$refused real clients were turned away during the storm"
  [ "$(exchange "$port" after)" = after ] || fail "no echo after the storm"
}

# Out of fds, accept fails with EMFILE while the connection stays queued: the server must back off (not
# spin, not flood its log), keep serving its clients, and serve the queued ones once fds are back.
out_of_fds_backs_off_and_recovers() {
  start_echo
  open_client 3
  run_out_of_fds "$echo_pid"
  exec 4<>"/dev/tcp/127.0.0.1/$port" 5<>"/dev/tcp/127.0.0.1/$port" 6<>"/dev/tcp/127.0.0.1/$port"
  sleep 0.5  # the queued connections meet EMFILE from here on
  expect_quiet_back_off "$echo_pid" "$E2E_TMP/echo.out" 3
  expect_echo 3 "served while out of fds"
  restore_fds "$echo_pid"
  expect_echo 4 "queued, then served"
  expect_echo 5 "queued, then served"
  expect_echo 6 "queued, then served"
}

# SIGTERM while the accept loop waits for a slot of a full table: the wait must leave nothing behind that
# the teardown touches (ASan once caught a write into the destroyed server here).
sigterm_while_the_table_is_full_exits_zero() {
  local run
  for run in 1 2 3; do
    start_echo --max-connections 1
    open_client 3
    exec 4<>"/dev/tcp/127.0.0.1/$port"  # the accept loop now waits for the slot
    stop_with_sigterm "$echo_pid" "emio-echo (run $run)"
    exec 3>&- 4>&-
  done
}

sighup_and_sigpipe_are_ignored() {
  start_echo
  open_client 3
  kill -HUP "$echo_pid"
  kill -PIPE "$echo_pid"
  wait_until "the SIGHUP line" grep -q 'SIGHUP ignored' "$E2E_TMP/echo.out"
  expect_echo 3 "still serving"
  stop_with_sigterm "$echo_pid" "emio-echo"
}

# A storm of TERM, INT and HUP: the first TERM or INT stops the server, and the ones that follow while it
# cleans up must not kill it by their default action. Exit 0, every time.
a_signal_storm_exits_zero_every_time() {
  local run signal_number
  for run in 1 2 3 4 5; do
    start_echo
    open_client 3
    for signal_number in TERM HUP INT TERM HUP INT TERM INT HUP TERM; do kill -"$signal_number" "$echo_pid" 2>/dev/null || true; done
    wait_exit "$echo_pid"
    [ "$exit_code" -eq 0 ] || fail "run $run: exit $exit_code after a signal storm"
    grep -q 'stopped' "$E2E_TMP/echo.out" || fail "run $run: no 'stopped' line"
    exec 3>&-
  done
}

# A port in use is not a mistake in the command line (the same line works once the port is free): one
# line on stderr, exit 1. Exit 2 is kept for command lines that can never work.
a_port_in_use_exits_1_with_one_line() {
  start_echo
  local code=0
  timeout "$E2E_TIMEOUT_S" "$EMIO_ECHO" --listen "127.0.0.1:$port" >"$E2E_TMP/second.out" 2>"$E2E_TMP/second.err" || code=$?
  [ "$code" -eq 1 ] || fail "a second server on port $port exited $code, expected 1"
  [ "$(wc -l <"$E2E_TMP/second.err")" -eq 1 ] || fail "it printed $(wc -l <"$E2E_TMP/second.err") lines on stderr"
  grep -q 'EADDRINUSE' "$E2E_TMP/second.err" || fail "stderr does not say EADDRINUSE: $(cat "$E2E_TMP/second.err")"
}

# --max-connections beyond what RLIMIT_NOFILE allows: the soft limit is raised (one line says so) when the
# hard limit has room, else the command line is refused (exit 2, one line) instead of EMFILE later.
max_connections_beyond_the_fd_limit_raise_it_or_are_refused() {
  expect_usage_error prlimit --nofile=64:64 "$EMIO_ECHO" --listen 127.0.0.1:0 --max-connections 100
  grep -q 'hard limit is 64' "$E2E_TMP/usage.err" || fail "the refusal does not name the limit"
  spawn echo prlimit --nofile=64:4096 "$EMIO_ECHO" --listen 127.0.0.1:0 --max-connections 100
  wait_until "the raised-limit line" grep -q 'raised the open-file limit from 64 to 116' "$E2E_TMP/echo.out"
  port=$(port_from echo listening)
  [ "$(exchange "$port" raised)" = raised ] || fail "no echo after raising the limit"
}

"$@"
