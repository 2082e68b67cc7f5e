#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# emio-echo under systemd's protocols, with systemd's own tools where they exist: socket activation by
# Debian's systemd-socket-activate, and sd_notify / the watchdog against a notification socket this test
# listens on (tests/e2e/notify_listener.py). Usage: systemd_test.sh CASE, with EMIO_ECHO set.
# shellcheck source-path=SCRIPTDIR disable=SC2154  # spawn NAME sets NAME_pid (printf -v)
source "$(dirname "$0")/lib.sh"
: "${EMIO_ECHO:?path to emio-echo}"

# at_least_pings COUNT LOG: the log holds COUNT watchdog pings or more (a function: wait_until re-runs it).
at_least_pings() { [ "$(grep -c '^WATCHDOG=1$' "$2")" -ge "$1" ]; }

# systemd-socket-activate binds the port, waits for the first client, then execs emio-echo with the
# listening socket as fd 3 (LISTEN_FDS=1, LISTEN_PID, LISTEN_FDNAMES=echo): no --listen needed.
serves_on_the_socket_systemd_passes() {
  command -v systemd-socket-activate >/dev/null || fail "systemd-socket-activate is missing (package systemd)"
  local port
  spawn_socket_activator 1 --fdname=echo "$EMIO_ECHO"
  port=${activator_ports[0]}
  [ "$(exchange "$port" 'first client')" = 'first client' ] || fail "no echo from the activated daemon"
  wait_until "the start-up line" grep -q "listening (socket from systemd) on 127.0.0.1:$port" "$E2E_TMP/activate.out"
  [ "$(exchange "$port" 'second client')" = 'second client' ] || fail "no echo for a second client"
  stop_with_sigterm "$activate_pid" "the activated emio-echo"
}

# READY=1 once serving, WATCHDOG=1 at half of WATCHDOG_USEC, STOPPING=1 on SIGTERM.
notifies_ready_and_stopping_and_pings_the_watchdog() {
  local socket="$E2E_TMP/notify" log="$E2E_TMP/notify.log"
  spawn notify python3 "$(dirname "$0")/notify_listener.py" "$socket" "$log" "$E2E_TIMEOUT_S"
  wait_until "the notification socket" grep -q listening "$log"
  NOTIFY_SOCKET=$socket WATCHDOG_USEC=200000 spawn echo "$EMIO_ECHO" --listen 127.0.0.1:0
  wait_until "READY=1" grep -q '^READY=1 STATUS=echoing$' "$log"
  wait_until "three watchdog pings (one every 100 ms)" at_least_pings 3 "$log"
  stop_with_sigterm "$echo_pid" "emio-echo"
  wait_until "STOPPING=1" grep -q '^STOPPING=1' "$log"
}

# A watchdog meant for another process (WATCHDOG_PID names it) is not ours to ping.
ignores_a_watchdog_meant_for_another_process() {
  local socket="$E2E_TMP/notify" log="$E2E_TMP/notify.log"
  spawn notify python3 "$(dirname "$0")/notify_listener.py" "$socket" "$log" "$E2E_TIMEOUT_S"
  wait_until "the notification socket" grep -q listening "$log"
  NOTIFY_SOCKET=$socket WATCHDOG_USEC=200000 WATCHDOG_PID=1 spawn echo "$EMIO_ECHO" --listen 127.0.0.1:0
  wait_until "READY=1" grep -q '^READY=1' "$log"
  sleep 0.5
  ! grep -q '^WATCHDOG=1$' "$log" || fail "pinged a watchdog that WATCHDOG_PID gave to another process"
  stop_with_sigterm "$echo_pid" "emio-echo"
}

# The unit files the project ships (packaging/systemd/) are what systemd accepts, with their ExecStart
# pointed at this build's daemons instead of /usr/local/bin (verify checks that the command exists).
unit_files_pass_systemd_analyze_verify() {
  command -v systemd-analyze >/dev/null || fail "systemd-analyze is missing (package systemd)"
  : "${EMIO_BRIDGE:?path to emio-bridge}"
  mkdir -p "$E2E_TMP/units"
  local unit
  for unit in "$(dirname "$0")"/../../packaging/systemd/*.{service,socket}; do
    sed -e "s#/usr/local/bin/emio-echo#$EMIO_ECHO#" -e "s#/usr/local/bin/emio-bridge#$EMIO_BRIDGE#" "$unit" \
      >"$E2E_TMP/units/$(basename "$unit")"
  done
  (cd "$E2E_TMP/units" && systemd-analyze verify ./*) >"$E2E_TMP/verify.out" 2>&1 || {
    cat "$E2E_TMP/verify.out"
    fail "systemd-analyze verify refused the units"
  }
  if [ -s "$E2E_TMP/verify.out" ]; then cat "$E2E_TMP/verify.out"; fail "systemd-analyze verify complained"; fi
  ls "$E2E_TMP/units"
}

"$1"
