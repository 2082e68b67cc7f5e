#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Runs the two programs of docs/getting-started.md (compiled from the guide's code blocks) as the guide
# says to try them. Usage: guide_test.sh CASE, with EMIO_GUIDE_FIRST_DAEMON and EMIO_GUIDE_UART_LOGGER set.
# shellcheck source-path=SCRIPTDIR disable=SC2154  # spawn NAME sets NAME_pid (printf -v)
source "$(dirname "$0")/lib.sh"

# The guide's C++ daemon listens on the fixed port 7000, as a reader would run it.
first_cpp_daemon_echoes_and_stops_on_sigterm() {
  if timeout 5 bash -c 'exec 3<>/dev/tcp/127.0.0.1/7000' 2>/dev/null; then
    fail "port 7000 is already taken on this machine: the guide's daemon cannot be tried"
  fi
  spawn first_daemon "$EMIO_GUIDE_FIRST_DAEMON"
  wait_until "the daemon to listen" bash -c 'exec 3<>/dev/tcp/127.0.0.1/7000'
  [ "$(exchange 7000 hello)" = hello ] || fail "no echo"
  stop_with_sigterm "$first_daemon_pid" "the guide's C++ daemon"
}

# holds_open PID PATH: the process has PATH open.
holds_open() {
  local fd
  for fd in /proc/"$1"/fd/*; do [ "$(readlink "$fd")" = "$2" ] && return 0; done
  return 1
}

first_c_daemon_prints_what_the_uart_receives() {
  spawn uart socat pty,raw,echo=0,link="$E2E_TMP/board" pty,raw,echo=0,link="$E2E_TMP/uart"
  wait_until "the pty pair" test -e "$E2E_TMP/board" -a -e "$E2E_TMP/uart"
  spawn board_reader cat "$E2E_TMP/board"
  spawn logger "$EMIO_GUIDE_UART_LOGGER" "$E2E_TMP/uart"
  wait_until "the logger to hold the port" holds_open "$logger_pid" "$(readlink "$E2E_TMP/uart")"
  printf 'hello uart\n' >"$E2E_TMP/board"
  wait_until "the logger to print the line" grep -q 'hello uart' "$E2E_TMP/logger.out"
  stop_with_sigterm "$logger_pid" "the guide's C daemon"
}

"$1"
