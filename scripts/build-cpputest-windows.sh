#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Builds CppUTest 4.0 for Windows x86_64 with mingw-w64 (Debian packages no Windows build of it) from
# Debian's source package (scripts/cpputest-source.sh) into PREFIX, build/tools/windows/cpputest by default;
# about 15 s. The toolchain file is the one the project's Windows preset uses.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
prefix=${1:-$root/build/tools/windows/cpputest}
[ -f "$prefix/lib/libCppUTest.a" ] && exit 0

# shellcheck source=cpputest-source.sh
source scripts/cpputest-source.sh
source_dir=$(fetch_cpputest_source "$root")

# Its extensions too (cpputest.pc names them); not its own tests. The leak detector stays on: the tests
# count allocations through it, as on Linux.
work=$root/build/tools/windows/cpputest-build
mkdir -p "$(dirname "$work")"
cmake -S "$source_dir" -B "$work" -G Ninja -DCMAKE_TOOLCHAIN_FILE="$root/toolchains/x86_64-w64-mingw32.cmake" \
  -DCMAKE_CROSSCOMPILING_EMULATOR= -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX="$prefix" \
  -DTESTS=OFF -DEXTENSIONS=ON -DCPPUTEST_FLAGS=ON >"$work.configure.log" 2>&1 ||
  { tail -20 "$work.configure.log" >&2; exit 1; }
cmake --build "$work" -j 2 >"$work.build.log" 2>&1 || { grep -E 'error' "$work.build.log" | head -20 >&2; exit 1; }
cmake --install "$work" >"$work.install.log" 2>&1
# cpputest.pc asks for -lstdc++ ahead of CppUTest's libraries: in a static link that pulls libstdc++'s
# operator new in first, and CppUTest's own (its leak detector) then clashes with it. g++ adds libstdc++
# last by itself.
sed -i 's/ -lstdc++//' "$prefix/lib/pkgconfig/cpputest.pc"
