#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The test command on macOS (.github/workflows/macos.yml runs it on a hosted Mac): Homebrew's cmake, ninja,
# pkg-config and cpputest, then emio on the kqueue backend, natively, and its suites. The e2e cases are left
# out: their scripts drive the daemons with Linux tools (socat on a pty, /proc), and so are the benchmarks
# (they measure against raw epoll). Ends with ctest's summary.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v brew >/dev/null || { echo "test-macos: needs Homebrew (https://brew.sh)" >&2; exit 1; }
for formula in cmake ninja pkg-config cpputest; do
  brew list --formula "$formula" >/dev/null 2>&1 || brew install "$formula"
done
build=build/macos-native
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DEMIO_BACKEND=kqueue -DEMIO_WERROR=ON -DEMIO_BUILD_BENCH=OFF
cmake --build "$build" -j "$(sysctl -n hw.ncpu)"
ctest --test-dir "$build" --output-on-failure -j 2 --timeout 300 -E '^e2e\.'
