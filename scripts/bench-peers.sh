#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The peer benchmark (bench/peers, issue 9): 64-byte echo over loopback, one request in flight per
# connection, emio-echo on each backend beside echo servers written on raw epoll, raw liburing, libev and
# libuv, all in one run. The server runs on core 0 (with any kernel thread it owns, such as SQPOLL's), the
# load generator on core 1. It writes docs/benchmarks.md (the tables, how each figure is taken, the
# machine), docs/benchmarks-peers.png (the ratios to raw epoll) and keeps the raw data in bench/results/peers/
# (callgrind profiles and server logs stay in build/bench-peers/). The figures are reported, never enforced:
# it exits non-zero only when something fails to build or run.
#
# Three passes, each going through the servers in turn (the order rotates from round to round, and the
# connection counts alternate inside a round, so a burst of load elsewhere on the machine spreads over all):
#   throughput    requests/s, p50/p99 latency, server CPU per request, idle and peak RSS (--rounds rounds)
#   syscalls      system calls per request, counted on the server's threads (raw_syscalls:sys_enter)
#   instructions  user-space instructions per request under callgrind, startup and connection set-up
#                 differenced out (a run of N requests and one of 2N in the same server process)
#   memory        RSS with 10,000 idle connections (each has echoed one request), and its growth per
#                 connection over the fresh server's
#
#   bash scripts/bench-peers.sh [--quick] [--rounds N] [--seconds S] [--connections "1 16 256"]
#                               [--servers "raw-epoll ..."] [--instruction-requests N] [--idle-connections N]
#   --quick: 2 rounds of 0.7 s, instructions at 16 connections only: under 3 minutes; the default run is
#   under 15. --instruction-requests 0 leaves the callgrind pass out, --idle-connections 0 the memory pass.
set -euo pipefail
cd "$(dirname "$0")/.."

all_servers="raw-epoll raw-uring libev libuv contract-floor emio-epoll emio-uring emio-uring-sqpoll"
mode=full
rounds=5
seconds=2.5
warmup_seconds=0.5
syscall_rounds=2
syscall_seconds=1
connection_counts="1 16 256"
instruction_connection_counts=""  # default: the same as connection_counts
instruction_requests=10000
idle_connections=10000
servers=$all_servers

usage() {
  echo "bench-peers: $1 (usage: bash scripts/bench-peers.sh [--quick] [--rounds N] [--seconds S]" \
    "[--connections \"1 16 256\"] [--servers \"$all_servers\"] [--instruction-requests N]" \
    "[--idle-connections N])" >&2
  exit 2
}
# need_value FLAG [VALUE...]: a usage error unless FLAG has a non-empty value after it.
need_value() { if [ $# -lt 2 ] || [ -z "$2" ]; then usage "$1 needs a value"; fi; }
while [ $# -gt 0 ]; do
  case "$1" in
    --quick)
      mode=quick rounds=2 seconds=0.7 warmup_seconds=0.3 syscall_rounds=1 syscall_seconds=0.5
      instruction_requests=2000 instruction_connection_counts=16
      shift ;;
    --rounds) need_value "$@"; rounds=$2; shift 2 ;;
    --seconds) need_value "$@"; seconds=$2; shift 2 ;;
    --connections) need_value "$@"; connection_counts=$2; shift 2 ;;
    --servers) need_value "$@"; servers=$2; shift 2 ;;
    --instruction-requests) need_value "$@"; instruction_requests=$2; shift 2 ;;
    --idle-connections) need_value "$@"; idle_connections=$2; shift 2 ;;
    *) usage "unknown flag '$1'" ;;
  esac
done
[[ "$rounds" =~ ^[1-9][0-9]?$ ]] || usage "--rounds takes 1 to 99"
if ! [[ "$seconds" =~ ^[0-9]*\.?[0-9]+$ ]] || ! awk -v s="$seconds" 'BEGIN { exit !(s >= 0.1 && s <= 60) }'; then
  usage "--seconds takes 0.1 to 60"
fi
if ! [[ "$instruction_requests" =~ ^[0-9]{1,7}$ ]] || [ "$instruction_requests" -gt 1000000 ]; then
  usage "--instruction-requests takes 0 to 1000000"
fi
if ! [[ "$idle_connections" =~ ^[0-9]{1,5}$ ]] || [ "$idle_connections" -gt 10000 ]; then
  usage "--idle-connections takes 0 to 10000"
fi
for connections in $connection_counts; do
  if ! [[ "$connections" =~ ^[1-9][0-9]{0,3}$ ]] || [ "$connections" -gt 1000 ]; then
    usage "--connections takes counts from 1 to 1000"
  fi
done
[ -n "$connection_counts" ] || usage "--connections takes counts from 1 to 1000"
for server in $servers; do
  [[ " $all_servers " == *" $server "* ]] || usage "unknown server '$server' (known: $all_servers)"
done
[ -n "$servers" ] || usage "--servers names no server"
if [ -z "$instruction_connection_counts" ] || [[ " $connection_counts " != *" $instruction_connection_counts "* ]]; then
  instruction_connection_counts=$connection_counts
fi

bash scripts/install-deps.sh
[ "$(nproc)" -ge 2 ] || { echo "bench-peers: needs two cores (server and load generator pinned apart)" >&2; exit 1; }
command -v taskset >/dev/null || { echo "bench-peers: taskset is missing (util-linux)" >&2; exit 1; }
# The system-call pass counts raw_syscalls:sys_enter, a tracefs event: a fresh machine (or a container)
# may not have tracefs mounted, and the pass then reports n/a for every server.
if [ ! -d /sys/kernel/tracing/events/raw_syscalls ] && [ ! -d /sys/kernel/debug/tracing/events/raw_syscalls ]; then
  mount -t tracefs nodev /sys/kernel/tracing 2>/dev/null ||
    echo "bench-peers: cannot mount tracefs on /sys/kernel/tracing: system calls will be n/a" >&2
fi

build_dir=build/bench-peers
results_dir=bench/results/peers
logs_dir="$build_dir/logs"
mkdir -p "$logs_dir" "$results_dir"
build_log="$logs_dir/build.log"
echo "bench-peers: building (release, EMIO_BACKEND=uring) in $build_dir" >&2
if ! { cmake --preset release -B "$build_dir" -DEMIO_BUILD_TESTS=OFF -DEMIO_BACKEND=uring &&
       cmake --build "$build_dir" -j2 --target emio-echo emio_peer_load emio_peer_raw_epoll emio_peer_raw_uring \
         emio_peer_libev emio_peer_libuv emio_peer_contract_floor; } >"$build_log" 2>&1; then
  tail -n 30 "$build_log" >&2
  echo "bench-peers: build failed (log: $build_log)" >&2
  exit 1
fi
peers="$build_dir/bench/peers"
load="$peers/emio_peer_load"

# shellcheck source-path=SCRIPTDIR/..
source bench/peers/lib.sh
# emio-echo has no time bound of its own: the server running when the script ends or is interrupted goes too.
trap 'peer_stop_now' EXIT
trap 'exit 130' INT TERM

# server_command NAME: the program and its flags for a server name.
server_command() {
  case "$1" in
    raw-epoll) echo "$peers/emio_peer_raw_epoll" ;;
    raw-uring) echo "$peers/emio_peer_raw_uring" ;;
    libev) echo "$peers/emio_peer_libev" ;;
    libuv) echo "$peers/emio_peer_libuv" ;;
    contract-floor) echo "$peers/emio_peer_contract_floor" ;;
    emio-*) echo "$build_dir/examples/emio-echo --backend ${1#emio-}" ;;
  esac
}

# rotated ROUND: the servers, starting at a different one each round.
rotated() {
  local list
  read -r -a list <<<"$servers"
  local count=${#list[@]} i
  for ((i = 0; i < count; i++)); do echo "${list[$(((i + $1) % count))]}"; done
}

# Read before the run rewrites docs/ and bench/results/: "-dirty" then means the code measured was.
tree_commit=$(git describe --always --dirty 2>/dev/null || echo unknown)
runs="$results_dir/runs.txt"
instructions="$results_dir/instructions.txt"
: >"$runs"
: >"$instructions"
started_at=$SECONDS

# load_run PASS ROUND SERVER CONNECTIONS LOAD_FLAGS...: one server process, one load run against it; appends
# the figures to $runs.
load_run() {
  local pass=$1 round=$2 server=$3 connections=$4
  shift 4
  local command
  read -r -a command <<<"$(server_command "$server")"
  peer_start "$logs_dir/$server" taskset -c 0 -- "${command[@]}" || exit 1
  local figures
  if ! figures=$(taskset -c 1 "$load" --port "$peer_port" --connections "$connections" --server-pid "$peer_pid" "$@" \
                   2>>"$logs_dir/load.err"); then
    echo "bench-peers: the load generator failed against $server ($connections connections): $(tail -n 1 "$logs_dir/load.err")" >&2
    exit 1
  fi
  local code=0
  peer_stop || code=$?
  [ "$code" = 0 ] || { echo "bench-peers: $server exited $code after SIGTERM (log: $logs_dir/$server.err)" >&2; exit 1; }
  echo "pass=$pass round=$round server=$server $figures" >>"$runs"
}

for round in $(seq "$rounds"); do
  for connections in $connection_counts; do
    echo "bench-peers: throughput round $round/$rounds, $connections connections ($((SECONDS - started_at)) s)" >&2
    for server in $(rotated "$round"); do
      load_run throughput "$round" "$server" "$connections" --seconds "$seconds" --warmup-seconds "$warmup_seconds"
    done
  done
done

# Counting system calls costs the server a little on each call: a pass of its own, so that the throughput
# and CPU figures above are taken without it.
for round in $(seq "$syscall_rounds"); do
  for connections in $connection_counts; do
    echo "bench-peers: system calls round $round/$syscall_rounds, $connections connections ($((SECONDS - started_at)) s)" >&2
    for server in $(rotated "$round"); do
      load_run syscalls "$round" "$server" "$connections" --seconds "$syscall_seconds" --warmup-seconds 0.2 --count-syscalls
    done
  done
done

# callgrind_dump SERVER TRIGGER: writes the counts since the last dump, named by TRIGGER.
callgrind_dump() {
  callgrind_control --dump="$2" "$peer_pid" >>"$logs_dir/callgrind_control.log" 2>&1 ||
    { echo "bench-peers: callgrind_control could not dump $1" >&2; exit 1; }
}

# One callgrind process per server: a dump after start-up, then for each connection count a run of N
# requests and one of 2N, each followed by a dump. Both runs open and close the same connections, so their
# difference is N requests and nothing else.
if [ "$instruction_requests" -gt 0 ]; then
  command -v callgrind_control >/dev/null || { echo "bench-peers: callgrind_control is missing (valgrind)" >&2; exit 1; }
  callgrind_dir="$build_dir/callgrind"
  rm -rf "$callgrind_dir"
  mkdir -p "$callgrind_dir"
  for server in $servers; do
    echo "bench-peers: instructions, $server under callgrind ($((SECONDS - started_at)) s)" >&2
    read -r -a command <<<"$(server_command "$server")"
    PEER_START_TIMEOUT_S=60 peer_start "$logs_dir/$server.callgrind" taskset -c 0 \
      valgrind --tool=callgrind --cache-sim=yes --callgrind-out-file="$callgrind_dir/$server.out" -- "${command[@]}" ||
      exit 1
    callgrind_dump "$server" startup
    for connections in $instruction_connection_counts; do
      for requests in "$instruction_requests" $((2 * instruction_requests)); do
        taskset -c 1 "$load" --port "$peer_port" --connections "$connections" --requests "$requests" \
          >/dev/null 2>>"$logs_dir/load.err" ||
          { echo "bench-peers: the load generator failed against $server under callgrind" >&2; exit 1; }
        callgrind_dump "$server" "connections=$connections,requests=$requests"
      done
    done
    code=0
    peer_stop || code=$?
    [ "$code" = 0 ] || { echo "bench-peers: $server exited $code under callgrind" >&2; exit 1; }
    for profile in "$callgrind_dir/$server.out".*; do
      awk -v server="$server" '
        /^desc: Trigger: / { sub(/^desc: Trigger: (Program termination|dump)? */, ""); trigger = $0 }
        /^events: / { for (i = 2; i <= NF; i++) column[$i] = i }
        /^totals: / { total = $(column["Ir"]); misses = $(column["D1mr"]) + $(column["D1mw"]) }
        END {
          if (trigger ~ /^connections=/) {
            gsub(",", " ", trigger)
            # %.0f: mawk prints a computed number past 2^31 in %.6g otherwise.
            printf "server=%s %s instructions=%s d1_misses=%.0f\n", server, trigger, total, misses
          }
        }
      ' "$profile" >>"$instructions"
    done
  done
fi

# One server process each: N connections that each echo one request and then stay open while the load
# generator reads the server's RSS. emio-echo gets slots for all of them (its table is fixed at start-up).
if [ "$idle_connections" -gt 0 ]; then
  for server in $servers; do
    echo "bench-peers: memory, $server with $idle_connections idle connections ($((SECONDS - started_at)) s)" >&2
    PEER_EMIO_MAX_CONNECTIONS=$((idle_connections + 16)) load_run memory 1 "$server" "$idle_connections" \
      --requests "$idle_connections" --max-seconds 120
  done
fi

# The machine, for the report.
{
  echo "date=$(date -u +%Y-%m-%dT%H:%MZ)"
  echo "mode=$mode"
  echo "nproc=$(nproc)"
  echo "cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
  echo "kernel=$(uname -r)"
  echo "commit=$tree_commit"
  echo "libev=$(dpkg-query -W -f='${Version}' libev-dev 2>/dev/null || echo unknown)"
  echo "libuv=$(dpkg-query -W -f='${Version}' libuv1-dev 2>/dev/null || echo unknown)"
  echo "liburing=$(dpkg-query -W -f='${Version}' liburing-dev 2>/dev/null || echo unknown)"
  echo "compiler=$(c++ --version | head -n 1)"
  printf '%s\n' "rounds=$rounds" "seconds=$seconds" "warmup_seconds=$warmup_seconds" "syscall_rounds=$syscall_rounds" \
    "syscall_seconds=$syscall_seconds" "instruction_requests=$instruction_requests" \
    "idle_connections=$idle_connections"
  echo "load_average=$(cut -d' ' -f1-3 /proc/loadavg)"
  echo "elapsed_seconds=$((SECONDS - started_at))"
} >"$results_dir/machine.txt"

python3 bench/peers/report.py --results "$results_dir" --markdown docs/benchmarks.md --plot docs/benchmarks-peers.png \
  --plot-data "$build_dir/ratios.dat"
echo "bench-peers: done in $((SECONDS - started_at)) s: docs/benchmarks.md, docs/benchmarks-peers.png, raw data in $results_dir" >&2
