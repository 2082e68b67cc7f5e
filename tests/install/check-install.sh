#!/usr/bin/env bash
# Installs the build in BUILD_DIR to a scratch prefix, then builds a consumer against it twice: with
# find_package(emio) and with pkg-config. Usage: check-install.sh BUILD_DIR SOURCE_DIR CXX
set -euo pipefail
build_dir=$1
source_dir=$2
cxx=$3
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

cmake --install "$build_dir" --prefix "$scratch/prefix" >/dev/null

cmake -S "$source_dir/consumer" -B "$scratch/cmake-consumer" -G Ninja -DCMAKE_CXX_COMPILER="$cxx" \
      -DCMAKE_PREFIX_PATH="$scratch/prefix" >/dev/null
cmake --build "$scratch/cmake-consumer" >/dev/null
"$scratch/cmake-consumer/consumer"

# Kept after ours: a kqueue build on Linux finds libkqueue.pc there (tests/CMakeLists.txt sets it).
export PKG_CONFIG_PATH="$scratch/prefix/lib/pkgconfig:$scratch/prefix/lib64/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
# shellcheck disable=SC2046 # pkg-config's output is a list of flags
"$cxx" -fno-exceptions -fno-rtti "$source_dir/consumer/main.cc" -o "$scratch/pkg-consumer" \
       $(pkg-config --cflags --libs --static emio)
"$scratch/pkg-consumer"
