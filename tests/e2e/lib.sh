# SPDX-License-Identifier: MIT
# shellcheck shell=bash
# Shared helpers for the end-to-end scripts: temporary folder, background processes that are always
# cleaned up, waiting for a daemon's start-up lines, and bounded waits. Sourced, never run.
# Every wait is bounded by E2E_TIMEOUT_S (generous: the suite also runs under qemu, 5-50x slower); no
# test asserts on timing, only on what the programs did.
set -euo pipefail

E2E_TIMEOUT_S=${E2E_TIMEOUT_S:-60}
E2E_TMP=$(mktemp -d "${TMPDIR:-/tmp}/emio-e2e.XXXXXX")
E2E_PIDS=()

e2e_cleanup() {
  local pid
  for pid in "${E2E_PIDS[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$E2E_TMP"
} 2>/dev/null  # bash's "Killed" notices for the processes ended here are noise
trap e2e_cleanup EXIT
trap 'exit 130' INT TERM

fail() {
  echo "FAIL: $*" >&2
  local log
  for log in "$E2E_TMP"/*.out "$E2E_TMP"/*.err; do
    [ -s "$log" ] || continue
    # Bulk transfers are binary: their size says more than their last bytes would.
    if grep -Iq . "$log"; then
      { echo "--- $(basename "$log")"; tail -n 20 "$log"; } >&2
    else
      echo "--- $(basename "$log"): $(stat -c %s "$log") bytes of binary data" >&2
    fi
  done
  exit 1
}

# spawn NAME COMMAND...: runs COMMAND in the background, stdout to $E2E_TMP/NAME.out and stderr to
# NAME.err; the pid lands in the variable NAME_pid (dashes become underscores).
spawn() {
  local name=$1
  shift
  # Emptied here, not by the child's redirection: a reader must never see an earlier run's lines.
  : >"$E2E_TMP/$name.out"
  : >"$E2E_TMP/$name.err"
  "$@" <&0 >>"$E2E_TMP/$name.out" 2>>"$E2E_TMP/$name.err" &  # <&0: keep stdin (bash gives & jobs /dev/null)
  E2E_PIDS+=("$!")
  printf -v "${name//-/_}_pid" '%s' "$!"
}

# spawn_socket_activator PORT_COUNT ARGS...: systemd-socket-activate listening on PORT_COUNT free loopback
# ports (activator_ports, in order; --listen flags first, then ARGS), and waits until it listens: the
# connection that proves it is its first client, which makes it exec the daemon. A port read as free may
# be taken by another test before the activator binds it (EADDRINUSE, seen under qemu-user with ctest -j 2):
# the activator then exits, and new ports are tried.
spawn_socket_activator() {
  local count=$1 attempt
  shift
  for attempt in 1 2 3 4 5; do
    read -r -a activator_ports < <(python3 -c 'import socket, sys
s = [socket.socket() for _ in range(int(sys.argv[1]))]
for x in s: x.bind(("127.0.0.1", 0))
print(*(x.getsockname()[1] for x in s))' "$count")
    activator_listening=0
    spawn activate systemd-socket-activate "${activator_ports[@]/#/--listen=127.0.0.1:}" "$@"
    wait_until "the activator to listen or exit" activator_settled
    [ "$activator_listening" -eq 1 ] && return 0
  done
  fail "the activator did not listen in $attempt attempts: $(tr '\n' ' ' <"$E2E_TMP/activate.err")"
}
activator_settled() {
  if bash -c "exec 3<>/dev/tcp/127.0.0.1/${activator_ports[0]}" 2>/dev/null; then
    activator_listening=1
    return 0
  fi
  ! kill -0 "$activate_pid" 2>/dev/null
}

# wait_until DESCRIPTION COMMAND...: polls COMMAND until it succeeds, or fails the test at the deadline.
wait_until() {
  local description=$1
  shift
  local deadline=$((SECONDS + E2E_TIMEOUT_S))
  until "$@" 2>/dev/null; do
    [ "$SECONDS" -lt "$deadline" ] || fail "timed out waiting for: $description"
    sleep 0.05
  done
}

# port_from NAME LABEL: the port a daemon printed as "LABEL on ADDR:PORT" (the examples print the
# address they really bound, so tests pass port 0 and never collide with anything).
port_from() {
  wait_until "$1 to print '$2 on'" grep -q "$2 on " "$E2E_TMP/$1.out"
  sed -n "s/.*$2 on .*:\([0-9][0-9]*\)\$/\1/p" "$E2E_TMP/$1.out" | head -n 1
}

# wait_exit PID: waits (bounded) for a background process to end and sets exit_code to its status.
# Not for $(...): a subshell is not the process's parent and cannot collect its status.
wait_exit() {
  local pid=$1 deadline=$((SECONDS + E2E_TIMEOUT_S))
  while kill -0 "$pid" 2>/dev/null; do
    [ "$SECONDS" -lt "$deadline" ] || fail "process $pid did not exit"
    sleep 0.05
  done
  exit_code=0
  wait "$pid" || exit_code=$?
}

# emio-bridge's GET /metrics on $metrics_port, and one sample by its full name (labels included).
# shellcheck disable=SC2154  # metrics_port: set by the sourcing script from the bridge's start-up line
metrics() { timeout "$E2E_TIMEOUT_S" curl -sf "http://127.0.0.1:$metrics_port/metrics"; }
metric() { metrics | awk -v name="$1" '$1 == name { print $2 }'; }
metric_is() { [ "$(metric "$1")" = "$2" ]; }
metric_above() { [ "$(metric "$1")" -gt "$2" ]; }

# stop_with_sigterm PID WHAT: sends SIGTERM and requires exit code 0.
stop_with_sigterm() {
  kill -TERM "$1"
  wait_exit "$1"
  [ "$exit_code" -eq 0 ] || fail "$2 exited $exit_code after SIGTERM"
}

# The --backend flag of the backend this case runs on (E2E_BACKEND, set per ctest entry by
# tests/e2e/CMakeLists.txt for the cases that run on every backend), or nothing for the build's default.
BACKEND_ARGS=()
if [ -n "${E2E_BACKEND:-}" ]; then BACKEND_ARGS=(--backend "$E2E_BACKEND"); fi

# cpu_ms PID: user + system CPU time the process has used, in milliseconds.
cpu_ms() {
  local fields ticks_per_s
  read -r -a fields <"/proc/$1/stat"
  ticks_per_s=$(getconf CLK_TCK)
  # Fields 14 and 15 (utime, stime) counted after the ") " that ends the command name; the name has no spaces here.
  echo $(((fields[13] + fields[14]) * 1000 / ticks_per_s))
}

# lowest_free_fd PID: the fd number the process's next open or accept would get. With RLIMIT_NOFILE set to
# it, the next one fails with EMFILE (the limit bounds fd numbers, not a count).
lowest_free_fd() {
  local fd=0
  while [ -e "/proc/$1/fd/$fd" ]; do fd=$((fd + 1)); done
  echo "$fd"
}

# run_out_of_fds PID NAME: lowers PID's soft RLIMIT_NOFILE to its next fd number (saving the old one in
# saved_soft_limit); restore_fds PID puts it back.
# An fd the daemon closes just after the limit was read (the session of the last metrics scrape, which
# under qemu-user closes late) would leave one fd of room, and a queued client would be accepted while "out
# of fds" (seen under qemu-aarch64): the table must settle first, and then the limit follows the lowest
# free fd down until it stays put.
run_out_of_fds() {
  saved_soft_limit=$(prlimit --pid "$1" --nofile --output SOFT --noheadings | tr -d ' ')
  follow_lowest_free_fd "$1" watch
  follow_lowest_free_fd "$1" lower
}

# follow_lowest_free_fd PID watch|lower: sets fd_limit to PID's lowest free fd once it stayed the same for
# five samples 100 ms apart; with "lower", PID's soft fd limit is set to each new value on the way.
follow_lowest_free_fd() {
  local lowest steady=0 deadline=$((SECONDS + E2E_TIMEOUT_S))
  fd_limit=$(lowest_free_fd "$1")
  if [ "$2" = lower ]; then prlimit --pid "$1" --nofile="$fd_limit:" || fail "cannot lower the fd limit"; fi
  while [ "$steady" -lt 5 ]; do
    [ "$SECONDS" -lt "$deadline" ] || fail "the fd table of $1 did not settle"
    sleep 0.1
    lowest=$(lowest_free_fd "$1")
    if [ "$lowest" -eq "$fd_limit" ]; then
      steady=$((steady + 1))
      continue
    fi
    fd_limit=$lowest steady=0
    if [ "$2" = lower ]; then prlimit --pid "$1" --nofile="$fd_limit:" || fail "cannot lower the fd limit"; fi
  done
}
restore_fds() { prlimit --pid "$1" --nofile="$saved_soft_limit:" || fail "cannot restore the fd limit"; }

# expect_quiet_back_off PID LOG MAX_LINES: over 2 s out of fds, PID (its log in LOG) must log EMFILE, use
# under 200 ms of CPU (not spin on a listener that stays readable) and log at most MAX_LINES accept lines.
expect_quiet_back_off() {
  local cpu_before lines_before cpu_used lines
  cpu_before=$(cpu_ms "$1")
  lines_before=$(grep -c 'accept' "$2" || true)
  sleep 2
  cpu_used=$(($(cpu_ms "$1") - cpu_before))
  lines=$(($(grep -c 'accept' "$2" || true) - lines_before))
  echo "out of fds for 2 s: ${cpu_used} ms of CPU, ${lines} log lines"
  grep -q 'EMFILE' "$2" || fail "no EMFILE was logged"
  [ "$cpu_used" -lt $((200 * $(slowdown))) ] || fail "${cpu_used} ms of CPU in 2 s out of fds"
  [ "$lines" -le "$3" ] || fail "$lines accept lines logged in 2 s"
}

# slowdown: how many times slower than a native build this one may be (E2E_SLOWDOWN, set by
# tests/e2e/CMakeLists.txt: qemu-user and the sanitizers), for the few bounds on time the load cases keep.
slowdown() { echo "${E2E_SLOWDOWN:-1}"; }

# expect_usage_error COMMAND...: the program must print exactly one line on stderr and exit 2.
expect_usage_error() {
  local code=0
  timeout "$E2E_TIMEOUT_S" "$@" >"$E2E_TMP/usage.out" 2>"$E2E_TMP/usage.err" || code=$?
  [ "$code" -eq 2 ] || fail "'$*' exited $code, expected 2"
  [ "$(wc -l <"$E2E_TMP/usage.err")" -eq 1 ] || fail "'$*' printed $(wc -l <"$E2E_TMP/usage.err") lines on stderr"
  echo "ok: '$*' -> $(cat "$E2E_TMP/usage.err")"
}

# exchange PORT TEXT: sends TEXT from a fresh client, half-closes, prints what came back.
exchange() {
  printf '%s' "$2" | timeout "$E2E_TIMEOUT_S" socat -t "$E2E_TIMEOUT_S" - "TCP:127.0.0.1:$1"
}

# counted_allocations FILE: sets COUNTED to a command prefix that preloads the allocation probe; the
# count lands in FILE when the program exits. A prefix (env), not a function, so that spawn's $! is the
# program itself and signals reach it.
counted_allocations() {
  : "${E2E_ALLOC_PROBE:?path to the allocation probe library}"
  # shellcheck disable=SC2034  # read by the scripts that source this file
  COUNTED=(env "LD_PRELOAD=$E2E_ALLOC_PROBE" "EMIO_ALLOC_PROBE_OUT=$1")
}

# expect_same_allocations IDLE_FILE LOADED_FILE: the two runs' counts must be equal.
expect_same_allocations() {
  local idle loaded
  idle=$(cat "$1")
  loaded=$(cat "$2")
  echo "heap allocations: idle run $idle, loaded run $loaded"
  [ "$idle" -eq "$loaded" ] || fail "traffic caused $((loaded - idle)) heap allocations"
}
