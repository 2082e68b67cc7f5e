#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Runs tests/misuse/outlives_executor.cc's program and checks that the misuse is caught and named:
# EXPECT=abort (debug builds: an assert) or EXPECT=log (NDEBUG builds: one line, exit 0).
# Usage: check-outlive.sh PROGRAM abort|log
set -uo pipefail
program=$1
expect=$2
output=$(mktemp)
trap 'rm -f "$output"' EXIT
"$program" >"$output" 2>&1
status=$?
cat "$output"
grep -q 'outlived its Executor or Driver' "$output" || { echo "FAIL: the misuse was not named"; exit 1; }
case $expect in
  abort) [ "$status" -eq 134 ] || { echo "FAIL: exit $status, expected the assert's SIGABRT (134)"; exit 1; } ;;
  log) [ "$status" -eq 0 ] || { echo "FAIL: exit $status, expected 0 after the log line"; exit 1; } ;;
esac
echo "ok: caught ($expect), exit $status"
