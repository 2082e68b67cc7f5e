#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The dispatch benchmark (bench/dispatch): N socketpairs in ping-pong, through the emio driver, through the
# same loop written directly on epoll, and through the smallest loop that keeps the driver's waker contract
# (bench/dispatch/contract_floor_loop.h). Installs what is missing (apt), makes a release build in
# build/bench-dispatch, runs the loops natively (events per second) and under callgrind (instructions per
# event, steady-state loop only), and prints a table with the ratios to raw.
# Exits non-zero only when something fails to build or run; the ratio is reported, never enforced.
# The table is also kept in bench/results/dispatch.txt, which scripts/bench-peers.sh puts in docs/benchmarks.md.
#
#   bash scripts/bench-dispatch.sh [--backend epoll|uring] [--pairs N] [--round-trips R] [--native-round-trips R]
# The driver runs on epoll unless --backend says otherwise: the raw loop it is compared with is epoll.
set -euo pipefail
cd "$(dirname "$0")/.."

pairs=64
backend=epoll
round_trips=500           # per pair, under callgrind (about 50x slower than native)
native_round_trips=3000   # per pair, for events per second
native_attempts=3         # native runs per mode; the fastest counts

usage() {
  echo "usage: bash scripts/bench-dispatch.sh [--backend epoll|uring] [--pairs N (1-1024)] [--round-trips R] [--native-round-trips R]" >&2
  exit 2
}
while [ $# -gt 0 ]; do
  case "$1" in
    --pairs) pairs="${2:-}"; shift 2 || usage ;;
    --backend) backend="${2:-}"; shift 2 || usage ;;
    --round-trips) round_trips="${2:-}"; shift 2 || usage ;;
    --native-round-trips) native_round_trips="${2:-}"; shift 2 || usage ;;
    *) usage ;;
  esac
done
case "$backend" in epoll|uring) ;; *) usage ;; esac
for count in "$pairs" "$round_trips" "$native_round_trips"; do
  [[ "$count" =~ ^[1-9][0-9]*$ ]] || usage
done

bash scripts/install-deps.sh

build_dir=build/bench-dispatch
log="$build_dir/bench-dispatch.log"
mkdir -p "$build_dir"
echo "bench-dispatch: building (release) in $build_dir" >&2
if ! { cmake --preset release -B "$build_dir" -DEMIO_BUILD_TESTS=OFF &&
       cmake --build "$build_dir" --target emio_bench_dispatch; } >"$log" 2>&1; then
  cat "$log" >&2
  echo "bench-dispatch: build failed" >&2
  exit 1
fi
binary="$build_dir/bench/dispatch/emio_bench_dispatch"

# value KEY LINE: the value of KEY=... in a line the benchmark printed.
value() { sed -E "s/.*(^| )$1=([^ ]*).*/\2/" <<<"$2"; }

# events_per_second LINE
events_per_second() { awk -v events="$(value events "$1")" -v seconds="$(value seconds "$1")" 'BEGIN {print events / seconds}'; }

# Native runs, alternating the modes; each mode keeps its fastest run, the one least disturbed by the machine.
declare -A native measured instructions
modes="raw contract-floor driver"
for attempt in $(seq "$native_attempts"); do
  for mode in $modes; do
    echo "bench-dispatch: $mode, native run $attempt/$native_attempts, $pairs pairs x $native_round_trips round trips" >&2
    line=$("$binary" --mode "$mode" --backend "$backend" --pairs "$pairs" --round-trips "$native_round_trips") ||
      { echo "bench-dispatch: the $mode loop failed" >&2; exit 1; }
    if [ -z "${native[$mode]:-}" ] ||
       awk -v new="$(events_per_second "$line")" -v old="$(events_per_second "${native[$mode]}")" 'BEGIN {exit !(new > old)}'; then
      native[$mode]=$line
    fi
  done
done

for mode in $modes; do
  echo "bench-dispatch: $mode, callgrind, $pairs pairs x $round_trips round trips" >&2
  profile="$build_dir/callgrind.$mode.out"
  # --collect-atstart=no: only the region between the benchmark's two client requests is counted.
  measured[$mode]=$(valgrind --tool=callgrind --collect-atstart=no --callgrind-out-file="$profile" \
                      "$binary" --mode "$mode" --backend "$backend" --pairs "$pairs" --round-trips "$round_trips" 2>>"$log") ||
    { tail -n 20 "$log" >&2; echo "bench-dispatch: the $mode loop failed under callgrind (log: $log)" >&2; exit 1; }
  instructions[$mode]=$(awk '/^totals:/ {print $2}' "$profile")
  [ -n "${instructions[$mode]}" ] || { echo "bench-dispatch: no totals in $profile" >&2; exit 1; }
done

for key in events reads writes waits; do
  for mode in contract-floor driver; do
    if [ "$(value "$key" "${measured[raw]}")" != "$(value "$key" "${measured[$mode]}")" ]; then
      echo "bench-dispatch: warning: raw and $mode did not do the same work under callgrind ($key differs)" >&2
    fi
  done
done

awk -v pairs="$pairs" -v attempts="$native_attempts" -v round_trips="$round_trips" -v native_round_trips="$native_round_trips" \
    -v raw_native="${native[raw]}" -v driver_native="${native[driver]}" -v floor_native="${native[contract-floor]}" \
    -v raw_measured="${measured[raw]}" -v driver_measured="${measured[driver]}" \
    -v floor_measured="${measured[contract-floor]}" \
    -v raw_instructions="${instructions[raw]}" -v driver_instructions="${instructions[driver]}" \
    -v floor_instructions="${instructions[contract-floor]}" '
  function field(line, key,   parts, i, kv) {
    split(line, parts, " ")
    for (i in parts) { split(parts[i], kv, "="); if (kv[1] == key) return kv[2] }
    return ""
  }
  function row(label, native_line, measured_line, total_instructions,   events, per_second, calls) {
    events = field(native_line, "events")
    per_second = events / field(native_line, "seconds")
    calls = (field(native_line, "waits") + field(native_line, "reads") + field(native_line, "writes")) / events
    per_event[label] = total_instructions / field(measured_line, "events")
    rate[label] = per_second
    printf "%-15s %10d %12.0f %20.1f %16.2f\n", label, events, per_second, per_event[label], calls
  }
  BEGIN {
    print ""
    printf "emio dispatch benchmark: %d socketpairs in ping-pong, one 64-byte message in flight per pair,\n", pairs
    print "edge-triggered, each ready end reads until EAGAIN and writes the message back."
    printf "  events/s:           fastest of %d native runs, %d round trips per pair\n", attempts, native_round_trips
    printf "  instructions/event: callgrind, %d round trips per pair, steady-state loop only,\n", round_trips
    print  "                      user space only (the kernel side of each system call is not counted)"
    print  "  syscalls/event:     epoll_wait + read + write calls per event, the same work in every loop"
    print ""
    printf "%-15s %10s %12s %20s %16s\n", "mode", "events", "events/s", "instructions/event", "syscalls/event"
    row("raw-epoll", raw_native, raw_measured, raw_instructions)
    row("contract-floor", floor_native, floor_measured, floor_instructions)
    row("emio-driver", driver_native, driver_measured, driver_instructions)
    printf "(the driver ran on %s; raw and the contract floor on epoll)\n", field(driver_measured, "backend")
    ratio = per_event["emio-driver"] / per_event["raw-epoll"]
    floor_ratio = per_event["contract-floor"] / per_event["raw-epoll"]
    print ""
    printf "driver/raw instructions/event: %.2fx (target: 1.3x or less: %s); driver overhead %.1f instructions/event\n", \
      ratio, (ratio <= 1.3 ? "met" : "NOT met"), per_event["emio-driver"] - per_event["raw-epoll"]
    printf "contract floor/raw:            %.2fx; floor overhead %.1f instructions/event\n", \
      floor_ratio, per_event["contract-floor"] - per_event["raw-epoll"]
    printf "driver/raw events/s:           %.2fx\n", rate["emio-driver"] / rate["raw-epoll"]
    print  ""
    print  "The contract floor is the smallest loop that keeps the waker contract (generation-checked tokens, one"
    print  "readiness word with a tick, a waiter claimed and a wake marked running in one swap, the running mark"
    print  "released after the waker call, a task that clears and parks in one swap): no driver can go below it"
    print  "without dropping a part of that contract. See bench/dispatch/contract_floor_loop.h."
    print  ""
    print  "instructions/event are user-space instructions only: the kernel work of the system calls, the same"
    print  "in every loop and most of the time per event, is in no figure; events/s includes it."
    print ""
    printf "callgrind profiles: %s/callgrind.{raw,contract-floor,driver}.out (callgrind_annotate FILE)\n", "'"$build_dir"'"
  }' | tee bench/results/dispatch.txt
