#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The echo benchmark (bench/echo): one TCP echo workload over loopback (64-byte messages, one request in
# flight per connection) at 1, 64 and 256 connections, served in every mode in the same run:
#   epoll            epoll readiness
#   uring            io_uring readiness (multishot POLL_ADD)
#   uring-ops        io_uring completion operations (accept, recv, send records, batched submission)
#   uring-multishot  completion operations with registered files, multishot accept, multishot recv from a
#                    provided buffer ring
#   bypass           the kernel-bypass mode: uring-multishot with SQPOLL and busy-poll turns (50 us)
# The server runs on core 0 and the client (plain epoll, the same for every mode) on core 1. For each run
# it prints requests per second (client side), server CPU time per request (getrusage of the server
# process, SQPOLL thread included), server system calls per request (perf stat, raw_syscalls:sys_enter),
# and each one's ratio to epoll at the same connection count. Exits non-zero only when something fails to
# build or run; the figures are reported, never enforced.
#
# Each mode runs `--attempts` times (default 2, alternating with the other modes); the run with the most
# requests per second counts, the one the other jobs on the machine disturbed least.
#
#   bash scripts/bench-echo.sh [--seconds S (default 2)] [--attempts A] [--connections "1 64 256"] [--modes "..."]
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=2
attempts=2
connection_counts="1 64 256"
modes="epoll uring uring-ops uring-multishot bypass"
usage() {
  echo "usage: bash scripts/bench-echo.sh [--seconds S] [--connections \"1 64 256\"] [--modes \"epoll uring ...\"]" >&2
  exit 2
}
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds="${2:-}"; shift 2 || usage ;;
    --attempts) attempts="${2:-}"; shift 2 || usage ;;
    --connections) connection_counts="${2:-}"; shift 2 || usage ;;
    --modes) modes="${2:-}"; shift 2 || usage ;;
    *) usage ;;
  esac
done
[[ "$seconds" =~ ^[0-9]+(\.[0-9]+)?$ ]] || usage
[[ "$attempts" =~ ^[1-9][0-9]*$ ]] || usage

bash scripts/install-deps.sh
command -v perf >/dev/null || { echo "bench-echo: perf is missing (linux-perf, in scripts/install-deps.sh)" >&2; exit 1; }
[ "$(nproc)" -ge 2 ] || { echo "bench-echo: needs two cores (server and client pinned apart)" >&2; exit 1; }

build_dir=build/bench-echo
log="$build_dir/bench-echo.log"
mkdir -p "$build_dir"
echo "bench-echo: building (release, EMIO_BACKEND=uring) in $build_dir" >&2
if ! { cmake --preset release -B "$build_dir" -DEMIO_BUILD_TESTS=OFF -DEMIO_BACKEND=uring &&
       cmake --build "$build_dir" --target emio_bench_echo_server emio_bench_echo_client; } >"$log" 2>&1; then
  cat "$log" >&2
  echo "bench-echo: build failed" >&2
  exit 1
fi
server="$build_dir/bench/echo/emio_bench_echo_server"
client="$build_dir/bench/echo/emio_bench_echo_client"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# value KEY LINE: the value of KEY=... in a line a benchmark program printed.
value() { sed -E "s/.*(^| )$1=([^ ]*).*/\2/" <<<"$2"; }

# run MODE CONNECTIONS: one measured run; prints "rps cpu_us_per_request syscalls_per_request backend".
run() {
  local mode=$1 connections=$2
  rm -f "$work/port"
  perf stat -x, -e raw_syscalls:sys_enter -o "$work/perf" -- \
    taskset -c 0 "$server" --mode "$mode" --connections "$connections" --port-file "$work/port" \
    --max-seconds 60 >"$work/server" 2>&1 &
  local server_pid=$!
  for _ in $(seq 200); do [ -s "$work/port" ] && break; sleep 0.05; done
  [ -s "$work/port" ] || { echo "bench-echo: the $mode server did not start" >&2; cat "$work/server" >&2; exit 1; }
  local client_line
  client_line=$(taskset -c 1 "$client" --port "$(cat "$work/port")" --connections "$connections" --seconds "$seconds") ||
    { echo "bench-echo: the client failed against $mode" >&2; exit 1; }
  wait "$server_pid" || { echo "bench-echo: the $mode server failed" >&2; cat "$work/server" >&2; exit 1; }
  local server_line syscalls
  server_line=$(grep '^mode=' "$work/server")
  syscalls=$(awk -F, '/raw_syscalls:sys_enter/ {print $1}' "$work/perf")
  awk -v requests="$(value requests "$server_line")" -v cpu="$(value cpu_us "$server_line")" \
      -v calls="$syscalls" -v client_requests="$(value requests "$client_line")" \
      -v elapsed="$(value seconds "$client_line")" -v backend="$(value backend "$server_line")" \
      'BEGIN { printf "%.0f %.2f %.3f %s\n", client_requests / elapsed, cpu / requests, calls / requests, backend }'
}

printf "%-16s %5s %12s %8s %14s %8s %14s %8s  %s\n" mode conns requests/s ratio cpu_us/request ratio \
  syscalls/request ratio backend
ratio() { if [ -n "$2" ]; then awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; else echo -; fi; }
for connections in $connection_counts; do
  declare -A best=()
  for attempt in $(seq "$attempts"); do
    for mode in $modes; do
      echo "bench-echo: $mode, $connections connections, ${seconds}s, run $attempt/$attempts" >&2
      line=$(run "$mode" "$connections")
      if [ -z "${best[$mode]:-}" ] || [ "${line%% *}" -gt "${best[$mode]%% *}" ]; then best[$mode]=$line; fi
    done
  done
  base_rps="" base_cpu="" base_calls=""
  for mode in $modes; do
    read -r rps cpu calls backend <<<"${best[$mode]}"
    if [ "$mode" = epoll ]; then base_rps=$rps base_cpu=$cpu base_calls=$calls; fi
    printf "%-16s %5s %12s %8s %14s %8s %14s %8s  %s\n" "$mode" "$connections" "$rps" "$(ratio "$rps" "$base_rps")" \
      "$cpu" "$(ratio "$cpu" "$base_cpu")" "$calls" "$(ratio "$calls" "$base_calls")" "$backend"
  done
  unset best
done
