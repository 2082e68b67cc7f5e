#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Builds emio for ARM Linux boards and runs the whole ctest suite under qemu-user, one preset at a time.
#
#   scripts/test-cross.sh [aarch64|armhf|all]    (default: all)
#
# Installs what it needs first (scripts/install-cross-deps.sh: a no-op when done). Every step is bounded
# in time so that a hung emulated test cannot stall the caller. Prints ctest's output for each preset and
# ends with one line, "cross: N passed, N failed", the sum of ctest's counts (a preset that did not build
# or timed out counts as one failure). Exit status: 0 when every preset built and passed.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"
# shellcheck source=ctest-counts.sh
source "$repo_root/scripts/ctest-counts.sh"

configure_timeout_s=300
build_timeout_s=1200
test_timeout_s=1500  # the whole suite; each test has its own TIMEOUT in tests/CMakeLists.txt

usage() { echo "usage: $0 [aarch64|armhf|all]" >&2; exit 2; }

# The presets run for a target: the default backend, then the io_uring build where it configures
# (under qemu-user io_uring_setup fails with ENOSYS, so that build exercises the fallback to epoll).
presets_of() {
  local target="$1" preset
  for preset in "$target" "$target-uring"; do
    grep -q "\"name\": \"$preset\"" CMakePresets.json && echo "$preset"
  done
  return 0
}

# Runs a step with a time bound; its output is shown only when it fails.
run_quietly() {
  local what="$1" seconds="$2" log
  shift 2
  log="$(mktemp)"
  if ! timeout "$seconds" "$@" >"$log" 2>&1; then
    echo "test-cross: $what failed (or took over ${seconds}s):" >&2
    tail -n 60 "$log" >&2
    rm -f "$log"
    return 1
  fi
  rm -f "$log"
}

test_preset() {
  local preset="$1"
  echo "test-cross: $preset"
  if ! run_quietly "configure $preset" "$configure_timeout_s" cmake --preset "$preset" ||
    ! run_quietly "build $preset" "$build_timeout_s" cmake --build --preset "$preset"; then
    tests_failed=$((tests_failed + 1))  # a preset that does not get as far as ctest counts as one failure
    return 1
  fi
  local log status=0
  log="$(mktemp)"
  timeout "$test_timeout_s" ctest --preset "$preset" -j 2 --timeout 300 2>&1 | tee "$log" || status=$?
  count_ctest_summary "$log"
  rm -f "$log"
  return "$status"
}

# The totals over every preset run; a preset that does not get as far as a ctest summary counts as one failure.
tests_passed=0
tests_failed=0
count_ctest_summary() {
  local passed failed
  read -r passed failed < <(ctest_counts "$1")
  tests_passed=$((tests_passed + passed))
  tests_failed=$((tests_failed + failed))
}

main() {
  local selection="${1:-all}" targets
  case "$selection" in
    all) targets=(aarch64 armhf) ;;
    aarch64 | armhf) targets=("$selection") ;;
    *) usage ;;
  esac
  "$repo_root/scripts/install-cross-deps.sh" "$selection"

  local target preset failed=()
  for target in "${targets[@]}"; do
    for preset in $(presets_of "$target"); do
      test_preset "$preset" || failed+=("$preset")
    done
  done
  [ ${#failed[@]} -eq 0 ] || echo "test-cross: FAILED: ${failed[*]}" >&2
  echo "cross: $tests_passed passed, $tests_failed failed"
  [ ${#failed[@]} -eq 0 ]
}

main "$@"
