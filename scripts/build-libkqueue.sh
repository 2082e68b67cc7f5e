#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Builds libkqueue (the kqueue API on Linux, BSD-licensed) from its release tarball into build/libkqueue/,
# with its own CMake, so that the kqueue-linux preset can run emio's kqueue backend here. The source is
# unpacked under build/, never into the repository.
#   source: $EMIO_LIBKQUEUE_SOURCE (a tarball or an unpacked folder), else ../shared/vendor/libkqueue-2.7.0.tar.gz
#           beside the checkout.
# Exit status: 0 when built (or already built from the same source), 0 with one line on stdout when the
# source is missing (skipped: a clone without shared/), non-zero when a build from a present source fails.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

source_path=${EMIO_LIBKQUEUE_SOURCE:-$root/../shared/vendor/libkqueue-2.7.0.tar.gz}
prefix=$root/build/libkqueue
work=$root/build/libkqueue-src

if [ ! -e "$source_path" ]; then
  echo "build-libkqueue: skipped: no libkqueue source at $source_path (set EMIO_LIBKQUEUE_SOURCE)"
  exit 0
fi

# Built before from the same source: nothing to do (the stamp names the source and its size).
stamp="$source_path $(du -sb "$source_path" | cut -f1)"
if [ -f "$prefix/lib/libkqueue.a" ] && [ "$(cat "$prefix/.source" 2>/dev/null)" = "$stamp" ]; then
  exit 0
fi

rm -rf "$work" "$prefix"
mkdir -p "$work"
if [ -d "$source_path" ]; then
  source_dir=$source_path
else
  tar -xzf "$source_path" -C "$work"
  source_dir=$(find "$work" -mindepth 1 -maxdepth 1 -type d | head -n 1)
fi

# Static only, so that emio links it without an rpath. Release: its debug
# build prints assertions' text but behaves the same.
cmake -S "$source_dir" -B "$work/build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX="$prefix" \
  -DCMAKE_INSTALL_LIBDIR=lib -DCMAKE_POSITION_INDEPENDENT_CODE=ON -DENABLE_SHARED=OFF >"$work/configure.log" 2>&1 ||
  { tail -20 "$work/configure.log" >&2; exit 1; }
cmake --build "$work/build" -j 2 >"$work/build.log" 2>&1 || { tail -20 "$work/build.log" >&2; exit 1; }
cmake --install "$work/build" >"$work/install.log" 2>&1 || { tail -20 "$work/install.log" >&2; exit 1; }
echo "$stamp" >"$prefix/.source"
echo "build-libkqueue: built into $prefix"
