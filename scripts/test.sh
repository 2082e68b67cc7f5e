#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The whole test suite from a fresh Debian 12 machine, as root: installs what is missing (apt), then builds
# and tests every configuration: GCC debug, release, ASan+UBSan, TSan, the libFuzzer
# targets (bounded runs), kqueue on libkqueue, the macOS link check (zig), Windows (mingw-w64, under wine),
# the ARM cross builds under qemu-user (armhf: the epoll-only driver), the recipes' board builds, the static
# musl build of the daemons, a 30 s soak of the daemons (scripts/soak.sh), the style gates.
# Ends with "emio: N passed, N failed", counting ctest's tests plus one per style gate. Exits non-zero if anything failed.
set -uo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=ctest-counts.sh
source scripts/ctest-counts.sh

bash scripts/install-deps.sh || { echo "test: dependency install failed" >&2; exit 1; }

passed=0
failed=0
failed_steps=()
log_dir=build/test-logs
mkdir -p "$log_dir"

step_started=$SECONDS
record() {  # record NAME PASSED FAILED; also prints how long the step took (CI allows 90 minutes in all)
  echo "    $1: $(($2)) passed, $(($3)) failed, $((SECONDS - step_started)) s"
  step_started=$SECONDS
  passed=$((passed + $2))
  failed=$((failed + $3))
  if [ "$3" -ne 0 ]; then failed_steps+=("$1"); fi
}

# Adds the counts of ctest's summary line in a log; a non-zero exit with no failed test counts as one failure.
record_ctest_log() {  # record_ctest_log NAME LOG EXIT_CODE
  local passed_count failed_count
  read -r passed_count failed_count < <(ctest_counts "$2")
  if [ "$3" -ne 0 ] && [ "$failed_count" -eq 0 ]; then failed_count=1; fi
  record "$1" "$passed_count" "$failed_count"
}

# Adds the counts of a script's own closing line "NAME: N passed, N failed"; a non-zero exit with no failure
# counted, or no such line, counts as one failure.
record_summary() {  # record_summary NAME LOG EXIT_CODE
  local summary passed_count failed_count
  summary=$(grep -E "^$1: [0-9]+ passed, [0-9]+ failed$" "$2" | tail -1)
  if [ -z "$summary" ]; then
    record "$1" 0 1
    return
  fi
  passed_count=$(sed -E 's/^[^:]*: ([0-9]+) passed.*/\1/' <<<"$summary")
  failed_count=$(sed -E 's/.* ([0-9]+) failed$/\1/' <<<"$summary")
  if [ "$3" -ne 0 ] && [ "$failed_count" -eq 0 ]; then failed_count=1; fi
  record "$1" "$passed_count" "$failed_count"
}

run_preset() {  # run_preset PRESET: configure, build, ctest; the log keeps everything
  local preset=$1 log="$log_dir/$1.log" status
  echo "=== $preset"
  { cmake --preset "$preset" && timeout 1200 cmake --build --preset "$preset" &&
    timeout 1200 ctest --preset "$preset" -j 2; } >"$log" 2>&1
  status=$?
  grep -E 'tests passed|\*\*\*Failed|\(Failed\)|\(SEGFAULT\)|\(Timeout\)|error:' "$log" | tail -15
  # The start of each failed test's own output (ctest prints it after the result line, outputOnFailure):
  # CI keeps what this script prints, not build/test-logs.
  if [ "$status" -ne 0 ]; then
    awk '/\*\*\*(Failed|Timeout|Exception)/ { left = 40; print "--- " $0; next } left > 0 { left--; print }' "$log" |
      head -n 160
  fi
  record_ctest_log "$preset" "$log" "$status"
}

# A script that ends with its own "NAME: N passed, N failed" line: its log's lines matching PATTERN are shown.
run_summary_step() {  # run_summary_step TITLE NAME PATTERN COMMAND...
  local title=$1 name=$2 pattern=$3 log="$log_dir/$2.log" status
  shift 3
  echo "=== $title"
  "$@" >"$log" 2>&1
  status=$?
  grep -E "$pattern" "$log" | tail -15
  record_summary "$name" "$log" "$status"
}

run_gate() {  # run_gate NAME COMMAND...: one test that passes when the command does
  local name=$1 log="$log_dir/$1.log"
  shift
  echo "=== $name"
  if "$@" >"$log" 2>&1; then record "$name" 1 0; else tail -30 "$log"; record "$name" 0 1; fi
}

# debug, release, asan and tsan build the default backends (io_uring with epoll beside it, so the shared suite
# runs on both). clang is asan's and tsan's compiler (with -Werror, and asan runs the misuse compile check), so
# the plain clang-debug preset is left to developers; the epoll-only driver is armhf's (below: auto picks
# epoll alone on 32-bit ARM, and the whole suite runs on it), so the epoll preset is left to them too.
presets=(debug release asan tsan)
for preset in "${presets[@]}"; do run_preset "$preset"; done
run_preset fuzz  # libFuzzer targets, 15 s each (docs/testing.md)
# The seeded simulation backend: the shared driver and runtime suites and the sim label (its workload at
# two seeds, 10^6 operations each); scripts/sim.sh --seeds N for long runs (docs/testing.md).
run_preset sim

# kqueue on Linux through libkqueue, built from the tarball beside the checkout (../shared/vendor, or
# EMIO_LIBKQUEUE_SOURCE); a clone without it says so in one line and skips the preset.
echo "=== kqueue-linux (libkqueue)"
if bash scripts/build-libkqueue.sh >"$log_dir/libkqueue.log" 2>&1; then
  if [ -f build/libkqueue/lib/libkqueue.a ]; then
    run_preset kqueue-linux
  else
    cat "$log_dir/libkqueue.log"
  fi
else
  tail -20 "$log_dir/libkqueue.log"
  record libkqueue 0 1
fi

# macOS link check (zig from npm): library, runtime and examples for x86_64 and aarch64, the test binaries for aarch64;
# it prints "macos-link-check: N passed, N failed".
run_summary_step "macos-link-check (zig c++ for x86_64-macos, aarch64-macos)" macos-link-check '^macos-link-check: ' \
  bash scripts/macos-link-check.sh

# Windows (mingw-w64; the tests run under wine): alloc/ and port/ so far, the IOCP driver is under way.
echo "=== windows (mingw-w64, tests under wine)"
if { bash scripts/install-windows-deps.sh && bash scripts/build-cpputest-windows.sh; } >"$log_dir/windows-deps.log" 2>&1; then
  run_preset windows
else
  tail -20 "$log_dir/windows-deps.log"
  record windows-deps 0 1
fi

# aarch64 and armhf (and armhf's explicit io_uring build) under qemu-user; it prints "cross: N passed, N failed".
run_summary_step "cross (aarch64, armhf under qemu-user)" cross '^test-cross: |tests passed|\(Failed\)|\(Timeout\)' \
  bash scripts/test-cross.sh all

# emio built the way the sample Yocto and Buildroot recipes build it, staged, and an application built
# against the staged package and run under qemu-user (scripts/test-board.sh, docs/cross-compiling.md).
run_summary_step "board (the recipes' builds, an application against the staged emio)" board '^board: ' \
  bash scripts/test-board.sh

# emio-echo (and emio-bridge, emio-c-echo) built static against musl with zig c++, checked free of glibc and
# run with a real client (scripts/test-musl.sh, docs/cross-compiling.md); it prints "musl: N passed, N failed".
run_summary_step "musl (static x86_64 musl build of the daemons, zig c++)" musl '^musl: ' bash scripts/test-musl.sh

# The short soak: the release daemons under churning load, every byte checked, RSS and fds flat
# (scripts/soak.sh, docs/testing.md); it prints "soak: N passed, N failed".
run_summary_step "soak (30 s, 2000 connections)" soak '^soak(-check)?: ' bash scripts/soak.sh --seconds 30 --connections 2000

run_gate format bash scripts/lint.sh format
run_gate tidy bash scripts/lint.sh tidy

echo
if [ ${#failed_steps[@]} -gt 0 ]; then echo "failed: ${failed_steps[*]} (logs in $log_dir)"; fi
echo "test: $((SECONDS / 60)) min $((SECONDS % 60)) s in all"
echo "emio: ${passed} passed, ${failed} failed"
[ "$failed" -eq 0 ]
