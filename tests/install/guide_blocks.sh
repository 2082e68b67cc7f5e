# SPDX-License-Identifier: MIT
# Sourced by the tests that build docs/getting-started.md's programs as a user would (check-install.sh,
# scripts/test-board.sh): the guide's code blocks, taken out of the guide itself. Needs $guide set.

# fenced_block LANGUAGE N: the Nth (1-based) ```LANGUAGE block of the guide.
fenced_block() {
  awk -v fence='```'"$1" -v wanted="$2" '
    $0 == fence { count++; if (count == wanted) { inside = 1; next } }
    inside && $0 == "```" { exit }
    inside { print }' "$guide"
}
# write_consumer DIR LANGUAGE SOURCE_NAME CMAKE_BLOCK: the guide's program and its CMakeLists.txt in DIR.
write_consumer() {
  mkdir -p "$1"
  fenced_block "$2" 1 >"$1/$3"
  fenced_block cmake "$4" >"$1/CMakeLists.txt"
  [ -s "$1/$3" ] && [ -s "$1/CMakeLists.txt" ] || { echo "check-install: the guide lacks a block for $3" >&2; exit 1; }
}

