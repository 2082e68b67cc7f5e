#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Builds CppUTest 4.0 for macOS with zig (for scripts/macos-link-check.sh): Debian's source package of it
# (scripts/cpputest-source.sh), built with its own CMake into PREFIX.
# Usage: build-cpputest-macos.sh TARGET TOOLS_DIR PREFIX   (TOOLS_DIR: cc, c++, ar, ranlib wrappers)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
target=$1
tools=$2
prefix=$3
[ -f "$prefix/lib/libCppUTest.a" ] && exit 0

# shellcheck source=cpputest-source.sh
source scripts/cpputest-source.sh
source_dir=$(fetch_cpputest_source "$root")

# Its extensions too (cpputest.pc names them); neither its own tests nor its leak detector (a link check
# runs nothing; tests/CMakeLists.txt turns the detector's macros off anyway).
work=$root/build/macos/$target/cpputest-build
cmake -S "$source_dir" -B "$work" -G Ninja -DCMAKE_SYSTEM_NAME=Darwin \
  -DCMAKE_C_COMPILER="$tools/cc" -DCMAKE_CXX_COMPILER="$tools/c++" -DCMAKE_AR="$tools/ar" \
  -DCMAKE_RANLIB="$tools/ranlib" -DCMAKE_OSX_SYSROOT=/ -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX="$prefix" \
  -DTESTS=OFF -DEXTENSIONS=ON -DCPPUTEST_FLAGS=ON -DMEMORY_LEAK_DETECTION=OFF >"$work.configure.log" 2>&1 ||
  { tail -20 "$work.configure.log" >&2; exit 1; }
cmake --build "$work" -j 2 >"$work.build.log" 2>&1 || { grep -E 'error' "$work.build.log" | head -20 >&2; exit 1; }
cmake --install "$work" >"$work.install.log" 2>&1
# cpputest.pc asks for -lstdc++, which macOS has not; zig c++ links its libc++ by itself.
sed -i 's/ -lstdc++//' "$prefix/lib/pkgconfig/cpputest.pc"
