#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The musl static build (issue 12 item 5): proves the library needs nothing glibc-only. Builds the
# release-lib-musl preset (zig c++ -target x86_64-linux-musl, static, epoll; toolchains/) for emio-echo,
# emio-bridge and the C API's emio-c-echo, checks that each is a static executable with no glibc symbol
# versions, then runs the musl emio-echo and echoes 256 KB of random bytes through it with a python
# client, byte for byte, and stops it with SIGTERM (exit 0). Ends with "musl: N passed, N failed".
# Cold (zig building musl and libc++ into its cache) a few minutes; warm, well under one.
set -uo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo" || exit 1
build="$repo/build/release-lib-musl"
work="$repo/build/musl-test"
mkdir -p "$work"  # the checks write their logs here from the first one on
# shellcheck disable=SC2034  # read by counted-checks.sh
check_name=musl
# shellcheck source=counted-checks.sh
source "$repo/scripts/counted-checks.sh"

static_without_glibc() {  # static_without_glibc EXECUTABLE
  file "$1"
  file "$1" | grep >/dev/null 'ELF 64-bit LSB executable, x86-64.*statically linked' || { echo "not static"; return 1; }
  ! readelf --program-headers "$1" | grep -q INTERP || { echo "has a program interpreter"; return 1; }
  ! readelf --dynamic "$1" | grep -q NEEDED || { echo "needs shared libraries"; return 1; }
  ! readelf --version-info "$1" | grep -q GLIBC || { echo "has glibc symbol versions"; return 1; }
  ! strings "$1" | grep -q 'GLIBC_[0-9]' || { echo "names glibc symbol versions"; return 1; }
}

# Starts the musl emio-echo on a free port, echoes random bytes through it, stops it with SIGTERM.
echoes_bytes() {
  local output="$work/echo.out" pid port status
  "$build/examples/emio-echo" --listen 127.0.0.1:0 >"$output" 2>&1 &
  pid=$!
  for _ in $(seq 100); do
    port=$(sed -n 's/^emio-echo: listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$output")
    [ -n "$port" ] && break
    sleep 0.1
  done
  [ -n "$port" ] || { cat "$output"; kill "$pid"; return 1; }
  timeout 60 python3 - "$port" <<'PYTHON' || { kill "$pid"; return 1; }
import os, socket, sys
sent = os.urandom(256 * 1024)
with socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=30) as client:
    client.sendall(sent)
    client.shutdown(socket.SHUT_WR)
    received = bytearray()
    while len(received) < len(sent):
        chunk = client.recv(65536)
        if not chunk:
            break
        received += chunk
print(f"echoed {len(received)} of {len(sent)} bytes")
sys.exit(0 if bytes(received) == sent else 1)
PYTHON
  kill -TERM "$pid"
  wait "$pid"
  status=$?
  cat "$output"
  [ "$status" -eq 0 ] || { echo "emio-echo exited $status after SIGTERM"; return 1; }
}

if check zig bash scripts/install-zig.sh &&
  check configure cmake --preset release-lib-musl &&
  check build cmake --build --preset release-lib-musl -j 2 --target emio-echo emio-bridge emio-c-echo; then
  check emio-echo-static static_without_glibc "$build/examples/emio-echo"
  check emio-bridge-static static_without_glibc "$build/examples/emio-bridge"
  check emio-c-echo-static static_without_glibc "$build/capi/emio-c-echo"
  check emio-echo-echoes-bytes echoes_bytes
fi

checks_summary
