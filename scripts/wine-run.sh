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
# Debian's wineserver launcher passes -p0: a server quits the moment its last client does, and a wine that
# starts then dies at once with only "wine client error:0: recvmsg: Connection reset by peer" (a ctest
# test "failed" in 0.02 s that way, 2026-12-04). So one server session, which outlives its last client by
# 30 s and then ends by itself, serves a whole run: `wineserver -p30` starts it (exit 0), or exits 2 while
# one runs. The session's first wine process starts its system processes (services.exe, winedevice,
# plugplay), which keep that process's stderr open for the session's life: were it a test's, ctest would
# wait 30 s past the run's end for that test. So `wineboot` is that first process, with no output at all;
# under the lock, so that no test's wine can get in first.
mkdir -p "$(dirname "$WINEPREFIX")"
(
  flock 9
  if [ ! -f "$WINEPREFIX/system.reg" ]; then wineboot --init && wineserver --wait; fi
  if wineserver -p30 9>&-; then wineboot 9>&-; fi  # the server daemon must not hold the lock: 9>&-
) 9>"$WINEPREFIX.lock" </dev/null >/dev/null 2>&1
exec wine "$@" </dev/null
