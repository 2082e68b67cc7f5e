#!/usr/bin/env bash
# Builds emio for ARM Linux boards and runs the whole ctest suite under qemu-user, one preset at a time.
#
#   scripts/test-cross.sh [aarch64|armhf|all]    (default: all)
#
# Installs what it needs first (scripts/install-cross-deps.sh: a no-op when done). Every step is bounded
# in time so that a hung emulated test cannot stall the caller; ctest's own summary lines are printed.
# Exit status: 0 when every preset built and passed.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"

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
  run_quietly "configure $preset" "$configure_timeout_s" cmake --preset "$preset" || return 1
  run_quietly "build $preset" "$build_timeout_s" cmake --build --preset "$preset" || return 1
  timeout "$test_timeout_s" ctest --preset "$preset" -j 2 --timeout 300
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
  if [ ${#failed[@]} -gt 0 ]; then
    echo "test-cross: FAILED: ${failed[*]}" >&2
    return 1
  fi
  echo "test-cross: every cross preset passed under qemu-user"
}

main "$@"
