# SPDX-License-Identifier: MIT
# Sourced by test.sh and test-cross.sh. ctest_counts LOG prints "PASSED FAILED" from the last ctest summary
# line in LOG ("100% tests passed, 0 tests failed out of 11"), or "0 1" when there is none (a build that
# failed, or a run killed by its time bound).
ctest_counts() {
  local summary failed total
  summary=$(grep -E 'tests passed, [0-9]+ tests? failed out of [0-9]+' "$1" | tail -n 1)
  if [ -z "$summary" ]; then
    echo "0 1"
    return
  fi
  failed=$(sed -E 's/.* ([0-9]+) tests? failed out of.*/\1/' <<<"$summary")
  total=$(sed -E 's/.* failed out of ([0-9]+).*/\1/' <<<"$summary")
  echo "$((total - failed)) $failed"
}
