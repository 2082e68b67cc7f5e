# shellcheck shell=bash
# SPDX-License-Identifier: MIT
# Sourced by the scripts that end with "NAME: N passed, N failed" (test-board.sh, test-musl.sh). The sourcing
# script sets check_name (the line's prefix) and work (the folder for the logs) first.
# shellcheck disable=SC2154  # check_name and work are the sourcing script's
passed=0
failed=0

check() {  # check NAME COMMAND...: one counted check; the command's output goes to work/NAME.log
  if "${@:2}" >"$work/$1.log" 2>&1; then
    echo "$check_name: $1 ok"
    passed=$((passed + 1))
  else
    echo "$check_name: $1 FAILED (log: $work/$1.log)"
    tail -n 20 "$work/$1.log"
    failed=$((failed + 1))
    return 1
  fi
}

checks_summary() {  # prints the summary line; fails if a check did
  echo "$check_name: $passed passed, $failed failed"
  [ "$failed" -eq 0 ]
}
