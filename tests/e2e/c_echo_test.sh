#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# End-to-end tests of the C example (capi/examples/c_echo.c), the proof that emio.h serves a C99 daemon.
# Usage: c_echo_test.sh CASE, with EMIO_C_ECHO in the environment.
# shellcheck source-path=SCRIPTDIR disable=SC2154  # spawn NAME sets NAME_pid (printf -v)
source "$(dirname "$0")/lib.sh"
: "${EMIO_C_ECHO:?path to emio-c-echo}"

start_c_echo() {
  spawn c_echo "$EMIO_C_ECHO" 127.0.0.1:0
  port=$(port_from c_echo listening)
}

echoes_a_line_and_exits_zero_on_sigterm() {
  start_c_echo
  [ "$(exchange "$port" "hello from C")" = "hello from C" ] || fail "no echo"
  exec 3<>"/dev/tcp/127.0.0.1/$port"
  stop_with_sigterm "$c_echo_pid" "emio-c-echo"
  timeout "$E2E_TIMEOUT_S" cat <&3 >/dev/null || fail "the open connection was not closed"
  grep -q 'stopped after .* 2 connections' "$E2E_TMP/c_echo.out" || fail "wrong count: $(cat "$E2E_TMP/c_echo.out")"
}

heartbeat_ticks() { sed -n 's/.*stopped after \([0-9]*\) heartbeats.*/\1/p' "$E2E_TMP/c_echo.out"; }

ticks_its_timer_while_serving() {
  start_c_echo
  local round
  for round in 1 2 3 4 5; do
    [ "$(exchange "$port" "round $round")" = "round $round" ] || fail "no echo in round $round"
    sleep 0.2
  done
  stop_with_sigterm "$c_echo_pid" "emio-c-echo"
  [ "$(heartbeat_ticks)" -gt 0 ] || fail "the heartbeat never fired: $(cat "$E2E_TMP/c_echo.out")"
}

"$1"
