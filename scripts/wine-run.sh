#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Runs a Windows program under wine, headless, for ctest (CMAKE_CROSSCOMPILING_EMULATOR of the mingw
# toolchain). One WINEPREFIX serves a whole run: making one takes 8-11 s and 700 MB, so it is made once,
# under a lock (ctest -j starts several tests at once), then reused (a warm start takes under a second).
# The program's exit code is wine's.   Usage: wine-run.sh PROGRAM.exe [ARGS...]
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
export WINEPREFIX=${WINEPREFIX:-$repo/build/wineprefix}
export WINEDEBUG=${WINEDEBUG:--all}  # wine's own fixme/err lines would bury the test's output
unset DISPLAY                        # no window, ever
if [ ! -f "$WINEPREFIX/system.reg" ]; then
  mkdir -p "$(dirname "$WINEPREFIX")"
  (
    flock 9
    [ -f "$WINEPREFIX/system.reg" ] || { wineboot --init && wineserver --wait; } >/dev/null 2>&1
  ) 9>"$WINEPREFIX.lock"
fi
# Debian's wineserver launcher passes -p0: a server quits the moment its last client does, and a wine that
# starts then dies at once with only "wine client error:0: recvmsg: Connection reset by peer" (a ctest
# test "failed" in 0.02 s that way under wine, 2026-12-04). So one server that outlives its last client by
# 30 s serves the whole run (it then ends by itself); while it runs, another `wineserver -p30` exits 2 and
# changes nothing. Its output goes nowhere: ctest would wait for a daemon that holds its pipe.
wineserver -p30 </dev/null >/dev/null 2>&1 || true
exec wine "$@" </dev/null
