# SPDX-License-Identifier: MIT
# shellcheck shell=bash
# Starting and stopping the servers of the peer benchmark, shared by scripts/bench-peers.sh and
# bench/peers/smoke_test.sh. Sourced, never run. Every wait is bounded.
#
# A server is given as a program and its extra arguments. emio-echo takes --listen; the peers take the
# port as their argument (peer_contract.h). Both print "NAME: listening on 127.0.0.1:PORT" once bound.

PEER_START_TIMEOUT_S=${PEER_START_TIMEOUT_S:-30}
PEER_STOP_TIMEOUT_S=${PEER_STOP_TIMEOUT_S:-30}
PEER_SERVER_MAX_SECONDS=${PEER_SERVER_MAX_SECONDS:-300}

# peer_server_arguments PROGRAM EXTRA...: the whole command line that serves on a free port of 127.0.0.1.
peer_server_arguments() {
  local program=$1
  shift
  if [ "$(basename "$program")" = emio-echo ]; then
    # 1024 connection slots (PEER_EMIO_MAX_CONNECTIONS): emio-echo's default of 64 would turn the
    # 256-connection runs away.
    printf '%s\n' "$program" --listen 127.0.0.1:0 --max-connections "${PEER_EMIO_MAX_CONNECTIONS:-1024}" "$@"
  else
    printf '%s\n' "$program" 0 --max-seconds "$PEER_SERVER_MAX_SECONDS" "$@"
  fi
}

# peer_start LOG_PREFIX [WRAPPER...] -- PROGRAM EXTRA...: starts the server in the background (stdout in
# LOG_PREFIX.out, stderr in LOG_PREFIX.err) and waits for its listening line. Sets peer_pid (the server's
# own pid: a WRAPPER such as taskset or valgrind must exec it, or be the process that receives SIGTERM)
# and peer_port. Returns 1, with a line on stderr, when it does not start in time.
peer_start() {
  local prefix=$1
  shift
  local wrapper=()
  while [ "$1" != -- ]; do wrapper+=("$1"); shift; done
  shift
  local command=()
  mapfile -t command < <(peer_server_arguments "$@")
  : >"$prefix.out"
  : >"$prefix.err"
  "${wrapper[@]}" "${command[@]}" >"$prefix.out" 2>"$prefix.err" &
  peer_pid=$!
  peer_port=""
  local deadline=$((SECONDS + PEER_START_TIMEOUT_S))
  while [ -z "$peer_port" ]; do
    if ! kill -0 "$peer_pid" 2>/dev/null || [ "$SECONDS" -ge "$deadline" ]; then
      echo "$(basename "$1") did not start: $(tail -n 3 "$prefix.err" | tr '\n' ' ')" >&2
      peer_stop_now
      return 1
    fi
    sleep 0.02
    peer_port=$(sed -n 's/.*: listening on 127\.0\.0\.1:\([0-9][0-9]*\)$/\1/p' "$prefix.out" | head -n 1)
  done
}

# peer_stop: SIGTERM, then waits (bounded) for exit; returns the server's exit code (1 if it had to be
# killed).
peer_stop() {
  [ -n "${peer_pid:-}" ] || return 0
  kill -TERM "$peer_pid" 2>/dev/null || true
  local deadline=$((SECONDS + PEER_STOP_TIMEOUT_S))
  while kill -0 "$peer_pid" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.02; done
  if kill -0 "$peer_pid" 2>/dev/null; then
    echo "the server (pid $peer_pid) ignored SIGTERM for ${PEER_STOP_TIMEOUT_S}s: killed" >&2
    peer_stop_now
    return 1
  fi
  local code=0
  wait "$peer_pid" 2>/dev/null || code=$?
  peer_pid=""
  return "$code"
}

# peer_stop_now: kills the server, for clean-up after a failure.
peer_stop_now() {
  [ -n "${peer_pid:-}" ] || return 0
  kill -KILL "$peer_pid" 2>/dev/null || true
  wait "$peer_pid" 2>/dev/null || true
  peer_pid=""
}
