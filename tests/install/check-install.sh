#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The install as a user meets it: installs BUILD_DIR to a scratch prefix, then builds the two programs of
# docs/getting-started.md outside the tree exactly as the guide shows, once with the guide's CMakeLists.txt
# (find_package(emio), emio::emio / emio::emio_c) and once with its pkg-config command lines, and runs
# each as the guide says to try it (tests/e2e/guide_test.sh).
# With SHARED=1 in the environment it also builds SOURCE_DIR with BUILD_SHARED_LIBS=ON, installs that and
# runs the CMake-built programs against the shared libraries.
# Usage: check-install.sh BUILD_DIR SOURCE_DIR CXX CC
set -Eeuo pipefail
build_dir=$(cd "$1" && pwd)
source_dir=$(cd "$2" && pwd)
cxx=$3
cc=$4
guide="$source_dir/docs/getting-started.md"
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
# set -e stops at the first failing command without a word: name it (CI shows this test's output only).
trap 'echo "check-install: failed at line $LINENO: $BASH_COMMAND" >&2' ERR
# shellcheck source=guide_blocks.sh
source "$source_dir/tests/install/guide_blocks.sh"

# run_guide_command PREFIX COMPILER: runs the guide's command line that starts with PREFIX ("c++ ", "cc "),
# with COMPILER in place of the first word.
run_guide_command() {
  local line
  line=$(grep -m 1 "^$1" "$guide") || { echo "check-install: the guide has no '$1...' command" >&2; exit 1; }
  echo "+ $line"
  COMPILER=$2 eval "\"\$COMPILER\" ${line#* }"
}

# build_with_cmake DIR PREFIX: configures and builds DIR's CMakeLists.txt against the emio in PREFIX.
build_with_cmake() {
  cmake -S "$1" -B "$1/build" -G Ninja --no-warn-unused-cli -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_C_COMPILER="$cc" \
    -DCMAKE_PREFIX_PATH="$2" >/dev/null
  cmake --build "$1/build" >/dev/null
}

# try_programs CPP_DAEMON C_DAEMON: the guide's "try it" steps.
try_programs() {
  EMIO_GUIDE_FIRST_DAEMON=$1 bash "$source_dir/tests/e2e/guide_test.sh" first_cpp_daemon_echoes_and_stops_on_sigterm
  EMIO_GUIDE_UART_LOGGER=$2 bash "$source_dir/tests/e2e/guide_test.sh" first_c_daemon_prints_what_the_uart_receives
}

cmake --install "$build_dir" --prefix "$scratch/prefix" >/dev/null
write_consumer "$scratch/cpp" cpp first_daemon.cc 1
write_consumer "$scratch/c" c uart_logger.c 2

echo "check-install: find_package(emio), as the guide's CMakeLists.txt"
build_with_cmake "$scratch/cpp" "$scratch/prefix"
build_with_cmake "$scratch/c" "$scratch/prefix"
try_programs "$scratch/cpp/build/first_daemon" "$scratch/c/build/uart_logger"

echo "check-install: pkg-config, as the guide's command lines"
# Kept after ours: a kqueue build on Linux finds libkqueue.pc there (tests/CMakeLists.txt sets it).
export PKG_CONFIG_PATH="$scratch/prefix/lib/pkgconfig:$scratch/prefix/lib64/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
(cd "$scratch/cpp" && run_guide_command 'c++ ' "$cxx")
(cd "$scratch/c" && run_guide_command 'cc ' "$cc")
try_programs "$scratch/cpp/first_daemon" "$scratch/c/uart_logger"

if [ "${SHARED:-0}" = 1 ]; then
  echo "check-install: BUILD_SHARED_LIBS=ON"
  cmake -S "$source_dir" -B "$scratch/shared-build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=ON \
    -DEMIO_BUILD_TESTS=OFF -DEMIO_BUILD_BENCH=OFF -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_C_COMPILER="$cc" >/dev/null
  cmake --build "$scratch/shared-build" >/dev/null
  cmake --install "$scratch/shared-build" --prefix "$scratch/shared-prefix" >/dev/null
  ls "$scratch"/shared-prefix/lib*/libemio_runtime.so >/dev/null
  rm -rf "$scratch/cpp/build" "$scratch/c/build"
  build_with_cmake "$scratch/cpp" "$scratch/shared-prefix"
  build_with_cmake "$scratch/c" "$scratch/shared-prefix"
  # grep reads to the end (not -q): under pipefail a writer cut off by an early exit (SIGPIPE) fails the test.
  ldd "$scratch/cpp/build/first_daemon" | grep >/dev/null 'libemio_runtime.so' || { echo "not linked to the shared runtime" >&2; exit 1; }
  try_programs "$scratch/cpp/build/first_daemon" "$scratch/c/build/uart_logger"
  "$scratch/shared-prefix/bin/emio-echo" --help >/dev/null  # installed daemons find their libraries (RUNPATH)
fi
echo "check-install: ok"
