#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The whole test suite from a fresh Debian 12 machine, as root: installs what is missing (apt), then builds
# and tests every configuration: GCC debug, release, ASan+UBSan, TSan, the libFuzzer
# targets (bounded runs), kqueue on libkqueue, the macOS link check (zig), Windows (mingw-w64, under wine),
# the ARM cross builds under qemu-user (armhf: the epoll-only driver), the recipes' board builds, the static
# musl build of the daemons, a 30 s soak of the daemons (scripts/soak.sh), the style gates.
# Ends with "emio: N passed, N failed", counting ctest's tests plus one per style gate. Exits non-zero if anything failed.
#
# Two lanes share the 2 cores. The build lane (nice 19) configures and builds every preset, in the order the
# test lane needs them, then runs the steps that only compile (the macOS link check, clang-tidy). The test
# lane runs each preset's ctest once its build is done, then the steps that run programs. A ctest run waits
# far more than it computes (daemons started, back-offs, timeouts: the cores were 35-60 % busy in those
# phases, 2026-12-04), so the next build fits in its idle time; at nice 19 the build lane takes only what
# the tests leave (the RUN_SERIAL load cases included: a nice-0 task preempts a nice-19 one).
set -uo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=ctest-counts.sh
source scripts/ctest-counts.sh

# Everything apt and npm install, up front and one after the other: the lanes' own calls then find it all
# installed and never take dpkg's lock at the same time.
bash scripts/install-deps.sh || { echo "test: dependency install failed" >&2; exit 1; }

passed=0
failed=0
failed_steps=()
log_dir=build/test-logs
mkdir -p "$log_dir"
# The installs of the Windows, cross and zig steps; a failure here shows again in the step that needs it.
# Each on its own: one that fails must not leave the others to the lanes, which would then run them at once.
: >"$log_dir/installs.log"
for install in install-windows-deps.sh "install-cross-deps.sh all" install-zig.sh; do
  # shellcheck disable=SC2086 # the script's name and its argument
  bash scripts/$install >>"$log_dir/installs.log" 2>&1 ||
    { echo "test: $install failed (the steps that need it fail too):"; tail -5 "$log_dir/installs.log"; }
done

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

# --- The build lane ---

# lane_step NAME COMMAND...: runs COMMAND with its output in NAME's log, then writes "STATUS SECONDS" to
# NAME.done, which the test lane waits for.
lane_step() {
  local name=$1 started=$SECONDS status
  shift
  "$@" >"$log_dir/$name.log" 2>&1
  status=$?
  # Renamed into place: the test lane never reads a half-written file.
  echo "$status $((SECONDS - started))" >"$log_dir/$name.done.part" && mv "$log_dir/$name.done.part" "$log_dir/$name.done"
  return "$status"
}
build_preset() { cmake --preset "$1" && timeout 1200 cmake --build --preset "$1"; }
# A clone without the libkqueue tarball (../shared/vendor, or EMIO_LIBKQUEUE_SOURCE) builds no kqueue preset:
# status 77 (skipped), which the test lane reads from libkqueue.done.
kqueue_skipped=77
kqueue_library() { bash scripts/build-libkqueue.sh && { [ -f build/libkqueue/lib/libkqueue.a ] || return "$kqueue_skipped"; }; }
cross_presets=(aarch64 armhf armhf-uring)
build_lane() {
  local preset
  for preset in debug release asan tsan fuzz sim; do lane_step "$preset.build" build_preset "$preset"; done
  if lane_step libkqueue kqueue_library; then lane_step kqueue-linux.build build_preset kqueue-linux; fi
  # mingw-w64 and wine came with the installs above; CppUTest for Windows is built from Debian's source.
  if lane_step windows-deps bash scripts/build-cpputest-windows.sh; then lane_step windows.build build_preset windows; fi
  # scripts/test-cross.sh builds these again (nothing left to do) and runs their tests under qemu-user.
  for preset in "${cross_presets[@]}"; do lane_step "$preset.build" build_preset "$preset"; done
  # A zig cache of its own: the test lane's musl step may run zig at the same time.
  ZIG_GLOBAL_CACHE_DIR=$PWD/build/tools/zig-cache-macos lane_step macos-link-check bash scripts/macos-link-check.sh
  lane_step tidy bash scripts/lint.sh tidy
}
# kill_tree PID: PID and everything it started (the lane's cmake, ninja and compilers), if this script stops early.
kill_tree() {
  local children child
  children=$(pgrep -P "$1")
  kill "$1" 2>/dev/null  # first, so that it starts nothing more
  for child in $children; do kill_tree "$child"; done
}
rm -f "$log_dir"/*.done "$log_dir"/*.done.part
# renice, not setsid or a new session: the kernel's autogroups weigh sessions equally, and nice would then
# count for nothing against the test lane.
(
  renice -n 19 -p "$BASHPID" >/dev/null || echo "test: renice failed: the build lane runs at the tests' priority"
  build_lane
) &
build_lane_pid=$!
trap 'kill_tree "$build_lane_pid"' EXIT

# --- The test lane ---

# wait_for NAME: waits for the build lane's step NAME; its status is that step's.
wait_for() {
  while [ ! -f "$log_dir/$1.done" ]; do
    kill -0 "$build_lane_pid" 2>/dev/null || { [ -f "$log_dir/$1.done" ] && break; echo "test: the build lane ended before $1" >&2; return 1; }
    sleep 1
  done
  return "$(cut -d' ' -f1 "$log_dir/$1.done")"
}

run_preset() {  # run_preset PRESET: its build (the build lane's), then ctest; the log keeps everything
  local preset=$1 log="$log_dir/$1.log" status=0
  echo "=== $preset"
  if wait_for "$preset.build"; then
    echo "    (built in $(cut -d' ' -f2 "$log_dir/$preset.build.done") s by the build lane)"
    timeout 1200 ctest --preset "$preset" -j 2 >"$log" 2>&1 || status=$?
  else
    status=1
    cp "$log_dir/$preset.build.log" "$log"
  fi
  grep -E 'tests passed|\*\*\*Failed|\(Failed\)|\(SEGFAULT\)|\(Timeout\)|error:' "$log" | tail -15
  # The start of each failed test's own output (ctest prints it after the result line, outputOnFailure):
  # CI keeps what this script prints, not build/test-logs.
  if [ "$status" -ne 0 ]; then
    awk '/\*\*\*(Failed|Timeout|Exception)/ { left = 40; print "--- " $0; next } left > 0 { left--; print }' "$log" |
      head -n 160
  fi
  record_ctest_log "$preset" "$log" "$status"
}

# How a step that ran (in this lane or the build lane) with its output in NAME's log is shown and counted.
show_summary() {  # show_summary NAME PATTERN STATUS: a script ending with "NAME: N passed, N failed"
  grep -E "$2" "$log_dir/$1.log" | tail -15
  record_summary "$1" "$log_dir/$1.log" "$3"
}
show_gate() {  # show_gate NAME STATUS: one test that passes when the command did
  if [ "$2" -eq 0 ]; then record "$1" 1 0; else tail -30 "$log_dir/$1.log"; record "$1" 0 1; fi
}

run_summary_step() {  # run_summary_step TITLE NAME PATTERN COMMAND...: its log's lines matching PATTERN are shown
  local title=$1 name=$2 pattern=$3
  shift 3
  echo "=== $title"
  "$@" >"$log_dir/$name.log" 2>&1
  show_summary "$name" "$pattern" $?
}
run_gate() {  # run_gate NAME COMMAND...
  local name=$1
  shift
  echo "=== $name"
  "$@" >"$log_dir/$name.log" 2>&1
  show_gate "$name" $?
}

# debug, release, asan and tsan build the default backends (io_uring with epoll beside it, so the shared suite
# runs on both). clang is asan's and tsan's compiler (with -Werror, and asan runs the misuse compile check), so
# the plain clang-debug preset is left to developers; the epoll-only driver is armhf's (below: auto picks
# epoll alone on 32-bit ARM, and the whole suite runs on it), so the epoll preset is left to them too.
for preset in debug release asan tsan; do run_preset "$preset"; done
run_preset fuzz  # libFuzzer targets, 30 s each (docs/testing.md)
# The seeded simulation backend: the shared driver and runtime suites and the sim label (its workload at
# two seeds, 10^6 operations each); scripts/sim.sh --seeds N for long runs (docs/testing.md).
run_preset sim

# kqueue on Linux through libkqueue, built from the tarball beside the checkout (../shared/vendor, or
# EMIO_LIBKQUEUE_SOURCE); a clone without it says so in one line and skips the preset.
echo "=== kqueue-linux (libkqueue)"
wait_for libkqueue
case $? in
  0) run_preset kqueue-linux ;;
  "$kqueue_skipped") cat "$log_dir/libkqueue.log" ;;
  *) tail -20 "$log_dir/libkqueue.log"; record libkqueue 0 1 ;;
esac

# Windows (mingw-w64; the tests run under wine).
echo "=== windows (mingw-w64, tests under wine)"
if wait_for windows-deps; then
  run_preset windows
else
  tail -20 "$log_dir/windows-deps.log"
  record windows-deps 0 1
fi

# aarch64 and armhf (and armhf's explicit io_uring build) under qemu-user; it prints "cross: N passed, N failed".
# A build the lane could not make fails again there, and is counted there.
for preset in "${cross_presets[@]}"; do wait_for "$preset.build" || true; done
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

# What the build lane ran after the builds.
# macOS link check (zig from npm): library, runtime and examples for x86_64 and aarch64, the test binaries for
# aarch64; it prints "macos-link-check: N passed, N failed".
echo "=== macos-link-check (zig c++ for x86_64-macos, aarch64-macos; the build lane's)"
wait_for macos-link-check
show_summary macos-link-check '^macos-link-check: ' $?
echo "=== tidy (the build lane's)"
wait_for tidy
show_gate tidy $?
wait "$build_lane_pid"
trap - EXIT

echo
if [ ${#failed_steps[@]} -gt 0 ]; then echo "failed: ${failed_steps[*]} (logs in $log_dir)"; fi
echo "test: $((SECONDS / 60)) min $((SECONDS % 60)) s in all"
echo "emio: ${passed} passed, ${failed} failed"
[ "$failed" -eq 0 ]
