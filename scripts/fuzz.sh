#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Long fuzz runs: scripts/fuzz.sh --minutes N [--jobs J] [TARGET]. Builds the fuzz preset's targets, runs each (or
# TARGET alone: slot_arena driver command_line http_request socket_address line_reader) for N minutes
# over its seed corpus (tests/fuzz/corpus/TARGET, read only) and what earlier runs found
# (build/fuzz/tests/fuzz/found/TARGET), and prints per target the executions and coverage (libFuzzer's
# cov: edges and ft: features). A crash is saved as build/fuzz/tests/fuzz/crashes/TARGET-crash-*;
# docs/testing.md says how to replay it. --jobs J runs J fuzzing processes at once over the same corpus
# (logs TARGET.0.log ...; the executions are their sum). Ends with "fuzz: N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

minutes=2
jobs=1
targets=(slot_arena driver command_line http_request socket_address line_reader)
only=""
while [ $# -gt 0 ]; do
  case $1 in
    --minutes) minutes=$2; shift 2 ;;
    --jobs) jobs=$2; shift 2 ;;
    -h | --help) sed -n '3,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) only=$1; shift ;;
  esac
done
if [ -n "$only" ]; then targets=("$only"); fi

bin=build/fuzz/tests/fuzz
cmake --preset fuzz >/dev/null || exit 1
build_targets=()
for target in "${targets[@]}"; do build_targets+=("fuzz_$target"); done
cmake --build --preset fuzz -j 2 --target "${build_targets[@]}" >/dev/null || { echo "fuzz: build failed" >&2; exit 1; }

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
mkdir -p "$bin/logs"
passed=0
failed=0
# run_job TARGET LOG EXTRA...: one libFuzzer process over the target's corpus directories, for the run's
# minutes; its status is libFuzzer's (non-zero: a finding).
run_job() {
  local target=$1 log=$2
  shift 2
  "$bin/fuzz_$target" -max_total_time=$((minutes * 60)) -timeout=10 -print_final_stats=1 \
    -artifact_prefix="$bin/crashes/$target-" "$@" "$bin/found/$target" "tests/fuzz/corpus/$target" >"$log" 2>&1
}
for target in "${targets[@]}"; do
  extra=()
  # emio's daemons print every usage error: masked, libFuzzer's own report still shows.
  if [ "$target" = command_line ]; then extra=(-close_fd_mask=3); fi
  mkdir -p "$bin/found/$target" "$bin/crashes"
  # --jobs J: J independent processes, each over the whole corpus, sharing what they find through the
  # found/ directory (libFuzzer -fork spent half its time merging its jobs' small corpora: 410 inputs/s
  # against 2 x 420 in its own jobs' logs, 2026-12-03).
  logs=() pids=()
  for ((job = 0; job < jobs; job++)); do
    logs+=("$bin/logs/$target.$job.log")
    run_job "$target" "${logs[$job]}" "${extra[@]}" &
    pids+=($!)
  done
  status=0
  for ((job = 0; job < jobs; job++)); do
    wait -n && continue  # the only jobs of this shell are these processes
    status=$?
    kill "${pids[@]}" 2>/dev/null  # a finding ends the run, as it ends one process
  done
  executions=0 rate=0 coverage=""
  for log in "${logs[@]}"; do
    executions=$((executions + $(sed -nE 's/^stat::number_of_executed_units: *([0-9]+)/\1/p' "$log" | tail -1 | grep . || echo 0)))
    rate=$((rate + $(sed -nE 's/^stat::average_exec_per_sec: *([0-9]+)/\1/p' "$log" | tail -1 | grep . || echo 0)))
    # The coverage of the process that reached most (each counts its own).
    last=$(grep -E '^#[0-9]+.*cov: ' "$log" | tail -1 | sed -nE 's/.*cov: ([0-9]+) ft: ([0-9]+).*/cov \1 ft \2/p')
    if [ -z "$coverage" ] || [ "$(cut -d' ' -f4 <<<"$last")" -gt "$(cut -d' ' -f4 <<<"$coverage")" ]; then coverage=$last; fi
  done
  summary="$target: $executions executions ($rate/s), ${coverage:-no coverage line}"
  if [ "$status" -eq 0 ]; then passed=$((passed + 1)) && echo "$summary, no finding" && continue; fi
  failed=$((failed + 1))
  echo "$summary, FINDING (exit $status): see ${logs[*]}"
  grep -hE 'fuzz invariant broken|ERROR: |SUMMARY: |Test unit written' "${logs[@]}" | head -5
done
echo "fuzz: ${passed} passed, ${failed} failed"
[ "$failed" -eq 0 ]
