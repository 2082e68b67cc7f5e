#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Line and branch coverage of the library by the unit suites (emio_tests, emio_runtime_tests, emio_fault_tests): builds the
# coverage preset (GCC --coverage, debug), runs their ctest entries, then prints gcovr's summary for alloc/,
# port/, driver/ and runtime/ apart and writes one HTML report per folder under build/coverage/html/. Separate from
# scripts/test.sh: instrumented code is slower and measures, it does not gate.
set -euo pipefail
cd "$(dirname "$0")/.."

build=build/coverage
report=build/coverage/html
folders=(alloc port driver runtime)

cmake --preset coverage >/dev/null
cmake --build --preset coverage -j 2 --target emio_tests emio_runtime_tests emio_fault_tests >/dev/null
find "$build" -name '*.gcda' -delete  # counts from an earlier run would add up
# The unit suites only (e2e, capi, bench and install entries run other binaries); a failing test still leaves its counts.
ctest --preset coverage -j 2 -E '^(e2e|capi|bench|cross|Misuse)\.|^Install$' --output-on-failure >"$build/ctest.log" 2>&1 ||
  { tail -20 "$build/ctest.log"; echo "coverage: a unit test failed (log: $build/ctest.log)" >&2; exit 1; }
grep -E 'tests passed' "$build/ctest.log"

mkdir -p "$report"
for folder in "${folders[@]}"; do
  echo "=== $folder/"
  # Only the folder's own sources, whoever included them; the build tree's copies are the same files.
  gcovr --root . --object-directory "$build" --filter "$folder/" --exclude-unreachable-branches \
    --exclude-throw-branches --print-summary --html-details "$report/$folder.html" "$build" 2>/dev/null |
    grep -E '^(lines|branches):'
done
echo "coverage: HTML reports in $report/ (one per folder: alloc.html port.html driver.html runtime.html)"
