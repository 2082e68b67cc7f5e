#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Long simulation runs: scripts/sim.sh [--seeds N] [--first-seed S] [--operations N] [--preset sim|sim-asan].
# Builds the preset's sim test binary and runs the SimWorkload once per seed S, S+1, ... S+N-1 (default: 20
# seeds from a seed taken from the clock, printed; 10^6 operations each; the sim preset), one line per seed
# with its figures. A failing seed prints its broken rule and the command that replays it. Ends with
# "sim: N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

seeds=20
first_seed=$(($(date +%s) % 1000000 * 1000))
operations=1000000
preset=sim
while [ $# -gt 0 ]; do
  case $1 in
    --seeds) seeds=$2; shift 2 ;;
    --first-seed) first_seed=$2; shift 2 ;;
    --operations) operations=$2; shift 2 ;;
    --preset) preset=$2; shift 2 ;;
    -h | --help) sed -n '3,7p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "sim.sh: unknown argument $1 (--help)" >&2; exit 2 ;;
  esac
done

cmake --preset "$preset" >/dev/null || exit 1
cmake --build --preset "$preset" -j 2 --target emio_sim_tests >/dev/null || { echo "sim: build failed" >&2; exit 1; }
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
binary="build/$preset/tests/sim/emio_sim_tests"
log_dir="build/$preset/sim-logs"
mkdir -p "$log_dir"
echo "sim: seeds $first_seed to $((first_seed + seeds - 1)), $operations operations each ($preset)"
passed=0
failed=0
for ((seed = first_seed; seed < first_seed + seeds; seed++)); do
  log="$log_dir/seed-$seed.log"
  started=$SECONDS
  EMIO_SIM_SEED=$seed EMIO_SIM_OPERATIONS=$operations "$binary" -sg SimWorkload >"$log" 2>&1
  status=$?
  figures=$(sed -n 's/^sim-workload: //p' "$log")
  if [ "$status" -eq 0 ]; then
    passed=$((passed + 1))
    echo "seed $seed: passed in $((SECONDS - started)) s: $figures"
    continue
  fi
  failed=$((failed + 1))
  echo "seed $seed: FAILED (exit $status), log $log"
  grep -E 'error:|replays it|ERROR: |SUMMARY: ' "$log" | head -5
  echo "  replay: EMIO_SIM_SEED=$seed EMIO_SIM_OPERATIONS=$operations $binary -v -sg SimWorkload"
done
echo "sim: ${passed} passed, ${failed} failed"
[ "$failed" -eq 0 ]
