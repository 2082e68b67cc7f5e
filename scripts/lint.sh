#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Style gates that CI runs: `lint.sh format` (clang-format, no changes allowed) and `lint.sh tidy`
# (clang-tidy on the library and example sources, warnings are errors). `lint.sh fix` formats in place.
set -euo pipefail
cd "$(dirname "$0")/.."

sources() { git ls-files '*.h' '*.cc' '*.c'; }
library_sources() { git ls-files 'alloc/*.cc' 'port/*.cc' 'driver/*.cc' 'runtime/*.cc' 'capi/*.cc' 'examples/*.cc'; }
# Compiled in a kqueue build only (<sys/event.h>): tidied with the kqueue-linux build's flags.
kqueue_sources() { git ls-files 'driver/src/kqueue_backend.cc'; }
# Compiled in a sim build only (tests): tidied with the sim build's flags.
sim_sources() { git ls-files 'driver/src/sim_*.cc'; }
# Compiled for Windows only: tidied with the windows build's flags and mingw's headers (clang's own
# intrinsic headers, not GCC's, which clang cannot parse).
windows_sources() {
  git ls-files 'port/src/*_windows.cc' 'runtime/src/*_windows.cc' 'examples/common/*_windows.cc' 'driver/src/afd_poll.cc' \
    'driver/src/iocp_backend.cc' 'driver/src/iocp_operations.cc'
}
mingw_header_arguments() {
  x86_64-w64-mingw32-g++-posix -E -x c++ - -v </dev/null 2>&1 |
    sed -n '/#include <...> search starts here/,/End of search/p' | sed -n 's/^ \(\/.*\)/\1/p' |
    grep -v -e '/include$' -e '/include-fixed$' | sed 's/^/--extra-arg=-isystem/'
  echo "--extra-arg=-isystem/usr/x86_64-w64-mingw32/include"
}

# Every source, script and build file names its license (SPDX) in its first lines.
licensed_files() { git ls-files '*.h' '*.cc' '*.c' '*.in' '*.sh' '*.py' '*.cmake' 'CMakeLists.txt' '*/CMakeLists.txt'; }
check_spdx() {
  local file missing=0
  while read -r file; do
    head -n 3 "$file" | grep -q 'SPDX-License-Identifier: MIT' || { echo "no SPDX-License-Identifier line: $file"; missing=1; }
  done < <(licensed_files)
  return "$missing"
}

case "${1:-all}" in
  format) check_spdx && sources | xargs clang-format --dry-run --Werror ;;
  fix) sources | xargs clang-format -i ;;
  tidy)
    build=build/lint
    # Configuring is enough: compile_commands.json and the one generated header (emio/config.h, configure_file)
    # are written then; a build here cost CI about 4 minutes for nothing clang-tidy reads.
    cmake --preset debug -B "$build" >/dev/null
    library_sources | grep -v -F -x -f <(kqueue_sources; sim_sources; windows_sources) |
      xargs -P 2 -n 4 clang-tidy -p "$build" --quiet 2>/dev/null
    if command -v x86_64-w64-mingw32-g++-posix >/dev/null && [ -f build/tools/windows/cpputest/lib/libCppUTest.a ]; then
      windows_build=build/lint-windows
      cmake --preset windows -B "$windows_build" >/dev/null
      mapfile -t header_arguments < <(mingw_header_arguments)
      windows_sources | xargs clang-tidy -p "$windows_build" --quiet "${header_arguments[@]}" 2>/dev/null
    else
      echo "lint: port/src/*_windows.cc not tidied: no mingw-w64 or Windows CppUTest (scripts/install-windows-deps.sh,"
      echo "      scripts/build-cpputest-windows.sh)"
    fi
    sim_build=build/lint-sim
    cmake --preset sim -B "$sim_build" >/dev/null
    sim_sources | xargs clang-tidy -p "$sim_build" --quiet 2>/dev/null
    # The kqueue backend needs libkqueue's header here (scripts/build-libkqueue.sh); without it, skipped.
    if [ -f build/libkqueue/lib/libkqueue.a ]; then
      kqueue_build=build/lint-kqueue
      cmake --preset kqueue-linux -B "$kqueue_build" >/dev/null
      kqueue_sources | xargs clang-tidy -p "$kqueue_build" --quiet 2>/dev/null
    else
      echo "lint: kqueue_backend.cc not tidied: no libkqueue in build/ (bash scripts/build-libkqueue.sh)"
    fi
    ;;
  all) "$0" format && "$0" tidy ;;
  *) echo "usage: $0 [format|tidy|fix|all]" >&2; exit 2 ;;
esac
