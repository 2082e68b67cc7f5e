#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Builds emio for a board the way the sample recipes do (packaging/yocto/emio_git.bb,
# packaging/buildroot/emio/emio.mk), then an application against the staged install, and runs it:
#   yocto:     aarch64, the recipe's EXTRA_OECMAKE and PACKAGECONFIG[io_uring] (on), static libraries;
#   buildroot: armhf, the package's EMIO_CONF_OPTS with io_uring off (its default on 32-bit ARM) and
#              BUILD_SHARED_LIBS=ON (Buildroot's default, BR2_SHARED_LIBS).
# Each: configure with the target's release-lib preset (its cross toolchain file) and the recipe's
# options, build, `DESTDIR=staging cmake --install` (prefix /usr), check what was staged, build
# docs/getting-started.md's C++ daemon outside the tree with find_package(emio) found through emio_DIR in
# the staging dir (as an SDK or a recipe's sysroot would), and try it under qemu-user as the guide says.
# The options come out of the recipe files, so the test follows them.
# Ends with "board: N passed, N failed".
set -uo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo" || exit 1
# shellcheck disable=SC2034  # read by guide_blocks.sh
guide="$repo/docs/getting-started.md"
# shellcheck source=../tests/install/guide_blocks.sh
source "$repo/tests/install/guide_blocks.sh"
work="$repo/build/board"
# shellcheck disable=SC2034  # read by counted-checks.sh
check_name=board
# shellcheck source=counted-checks.sh
source "$repo/scripts/counted-checks.sh"

# What the recipes pass to CMake, read from the recipes themselves.
yocto_options() {
  local recipe=packaging/yocto/emio_git.bb
  sed -n 's/^EXTRA_OECMAKE = "\(.*\)"$/\1/p' "$recipe"
  sed -n 's/^PACKAGECONFIG\[io_uring\] = "\([^,]*\),.*/\1/p' "$recipe"  # enabled: io_uring on aarch64
}
buildroot_options() {
  local package=packaging/buildroot/emio/emio.mk
  sed -n 's/^EMIO_CONF_OPTS = //p' "$package"
  sed -n '/^else$/,/^endif$/s/^EMIO_CONF_OPTS += //p' "$package"  # BR2_PACKAGE_EMIO_IO_URING off (arm)
  echo "-DBUILD_SHARED_LIBS=ON"
}

# The documented release-lib preset for the target (docs/cross-compiling.md), with the recipe's options on top.
build_and_stage() {  # build_and_stage NAME PRESET OPTIONS...
  local name=$1 preset=$2
  shift 2
  rm -rf "${work:?}/$name" "${work:?}/$name-staging"
  cmake --preset "$preset" -B "$work/$name" -DCMAKE_INSTALL_PREFIX=/usr "$@" &&
    cmake --build "$work/$name" -j 2 &&
    DESTDIR="$work/$name-staging" cmake --install "$work/$name"
}

staged_what_an_application_needs() {  # staged_what_an_application_needs STAGING LIBRARY_SUFFIX
  local file
  for file in usr/include/emio.h usr/include/emio/runtime/runtime.h usr/lib/cmake/emio/emioConfig.cmake \
    usr/lib/pkgconfig/emio.pc usr/lib/pkgconfig/emio-c.pc "usr/lib/libemio_runtime.$2" usr/bin/emio-echo \
    usr/bin/emio-bridge; do
    [ -e "$1/$file" ] || { echo "not staged: $file"; return 1; }
  done
  # Tests and benchmarks are off: nothing of them is installed.
  ! find "$1" -name '*test*' -o -name '*bench*' | grep -q . || { echo "tests or benchmarks staged"; return 1; }
}

build_application() {  # build_application NAME TOOLCHAIN STAGING: the guide's C++ daemon, via emio_DIR
  local dir="$work/$1-app"
  rm -rf "$dir"
  write_consumer "$dir" cpp first_daemon.cc 1
  cmake -S "$dir" -B "$dir/build" -G Ninja -DCMAKE_TOOLCHAIN_FILE="$repo/toolchains/$2" \
    -DCMAKE_BUILD_TYPE=Release -Demio_DIR="$3/usr/lib/cmake/emio" && cmake --build "$dir/build"
}

# try_application NAME QEMU TRIPLET STAGING: the guide's "try it" step, the daemon under qemu-user with
# the target's C library (-L) and the staged libraries and liburing on its library path.
try_application() {
  local runner="$work/$1-app/run-under-qemu.sh"
  local library_path="$4/usr/lib:$repo/build/sysroots/$3/usr/lib/$3"
  printf '#!/bin/sh\nexec %s -L /usr/%s -E LD_LIBRARY_PATH=%s %s\n' "$2" "$3" "$library_path" \
    "$work/$1-app/build/first_daemon" >"$runner"
  chmod +x "$runner"
  EMIO_GUIDE_FIRST_DAEMON=$runner bash "$repo/tests/e2e/guide_test.sh" first_cpp_daemon_echoes_and_stops_on_sigterm
}

mkdir -p "$work"
check cross-deps bash scripts/install-cross-deps.sh all || { checks_summary; exit 1; }

mapfile -t yocto < <(yocto_options | tr " " "\n")
if check yocto-build build_and_stage yocto release-lib-aarch64 ${yocto[@]+"${yocto[@]}"}; then
  check yocto-staged staged_what_an_application_needs "$work/yocto-staging" a
  check yocto-application build_application yocto aarch64-linux-gnu.cmake "$work/yocto-staging" &&
    check yocto-application-runs try_application yocto qemu-aarch64 aarch64-linux-gnu "$work/yocto-staging"
fi

mapfile -t buildroot < <(buildroot_options | tr " " "\n")
if check buildroot-build build_and_stage buildroot release-lib-armhf ${buildroot[@]+"${buildroot[@]}"}; then
  check buildroot-staged staged_what_an_application_needs "$work/buildroot-staging" so
  check buildroot-application build_application buildroot arm-linux-gnueabihf.cmake "$work/buildroot-staging" &&
    check buildroot-application-runs try_application buildroot qemu-arm arm-linux-gnueabihf "$work/buildroot-staging"
fi

checks_summary
