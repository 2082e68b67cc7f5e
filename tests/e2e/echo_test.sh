#!/usr/bin/env bash
# End-to-end tests of emio-echo with real clients (socat, bash's /dev/tcp) over 127.0.0.1.
# Usage: echo_test.sh CASE, with EMIO_ECHO (and E2E_ALLOC_PROBE for the heap case) in the environment.
# shellcheck source-path=SCRIPTDIR disable=SC2154  # spawn NAME sets NAME_pid (printf -v)
source "$(dirname "$0")/lib.sh"
: "${EMIO_ECHO:?path to emio-echo}"

start_echo() {
  spawn echo "$EMIO_ECHO" --listen 127.0.0.1:0 "$@"
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
  wait_until "the backend line" grep -Eq '^emio-echo: backend (epoll|uring)$' "$E2E_TMP/echo.out"
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

"$@"
