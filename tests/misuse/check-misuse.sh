#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# A forgotten co_await must not compile: compiles tests/misuse/missing_co_await.cc once per case with the
# project's warnings as errors and requires case 0 (everything awaited) to compile and every other case
# to fail with the compiler's unused-result diagnostic. Usage: check-misuse.sh CXX -I... (include flags)
set -uo pipefail
cxx=$1
shift
source_file="$(dirname "$0")/missing_co_await.cc"
flags=(-std=c++20 -fno-exceptions -fno-rtti -Wall -Wextra -Werror -fsyntax-only "$@")
log=$(mktemp)
trap 'rm -f "$log"' EXIT

"$cxx" "${flags[@]}" -DMISUSE_CASE=0 "$source_file" >"$log" 2>&1 || { echo "case 0 (all awaited) does not compile:"; cat "$log"; exit 1; }
failed=0
for misuse_case in 1 2 3 4 5 6 7 8 9; do
  if "$cxx" "${flags[@]}" -DMISUSE_CASE="$misuse_case" "$source_file" >"$log" 2>&1; then
    echo "case $misuse_case: a forgotten co_await compiled"; failed=1
  elif ! grep -Eq 'nodiscard|unused-result|ignoring return value' "$log"; then
    echo "case $misuse_case: failed for another reason:"; cat "$log"; failed=1
  else
    echo "case $misuse_case: refused ($(grep -m1 -Eo '(error|warning): .*' "$log" | head -c 120))"
  fi
done
exit "$failed"
