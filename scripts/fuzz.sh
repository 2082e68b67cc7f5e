#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Long fuzz runs: scripts/fuzz.sh --minutes N [--jobs J] [TARGET]. Builds the fuzz preset's targets, runs each (or
# TARGET alone: slot_arena driver command_line http_request socket_address line_reader) for N minutes
# over its seed corpus (tests/fuzz/corpus/TARGET, read only) and what earlier runs found
# (build/fuzz/tests/fuzz/found/TARGET), and prints per target the executions and coverage (libFuzzer's
# cov: edges and ft: features). A crash is saved as build/fuzz/tests/fuzz/crashes/TARGET-crash-*;
# docs/testing.md says how to replay it. --jobs J runs J fuzzing processes at once (libFuzzer's -fork=J,
# one run whose processes share the corpus; a crash ends it). Ends with "fuzz: N passed, N failed".
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
for target in "${targets[@]}"; do
  log="$bin/logs/$target.log"
  extra=()
  # emio's daemons print every usage error: masked, libFuzzer's own report still shows.
  if [ "$target" = command_line ]; then extra=(-close_fd_mask=3); fi
  if [ "$jobs" -gt 1 ]; then extra+=(-fork="$jobs"); fi
  mkdir -p "$bin/found/$target" "$bin/crashes"
  "$bin/fuzz_$target" -max_total_time=$((minutes * 60)) -timeout=10 -print_final_stats=1 \
    -artifact_prefix="$bin/crashes/$target-" "${extra[@]}" "$bin/found/$target" "tests/fuzz/corpus/$target" >"$log" 2>&1
  status=$?
  executions=$(sed -nE 's/^stat::number_of_executed_units: *([0-9]+)/\1/p' "$log" | tail -1)
  # -fork: the parent's progress lines ("#N: cov: ..."), since its stat lines are one process's.
  rate=$(sed -nE 's/^stat::average_exec_per_sec: *([0-9]+)/\1/p' "$log" | tail -1)
  if [ "$jobs" -gt 1 ]; then
    executions=$(sed -nE 's/^#([0-9]+): cov: .*/\1/p' "$log" | tail -1)
    rate=$((${executions:-0} / (minutes * 60)))
  fi
  last=$(grep -E '^#[0-9]+.*cov: ' "$log" | tail -1)
  coverage=$(sed -nE 's/.*cov: ([0-9]+) ft: ([0-9]+).*/cov \1 ft \2/p' <<<"$last")
  summary="$target: ${executions:-0} executions (${rate:-0}/s), ${coverage:-no coverage line}"
  if [ "$status" -eq 0 ]; then passed=$((passed + 1)) && echo "$summary, no finding" && continue; fi
  failed=$((failed + 1))
  echo "$summary, FINDING (exit $status): see $log"
  grep -E 'fuzz invariant broken|ERROR: |SUMMARY: |Test unit written' "$log" | head -5
done
echo "fuzz: ${passed} passed, ${failed} failed"
[ "$failed" -eq 0 ]
