#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Installs, from Debian 12's packages, everything emio's build, tests and benchmarks need on the host.
# Idempotent: packages already present are not fetched again. Run as root.
set -euo pipefail

packages=(
  cmake ninja-build g++ clang libclang-rt-14-dev pkg-config
  clang-format clang-tidy
  liburing-dev libcpputest-dev libseccomp-dev
  valgrind strace procps linux-perf util-linux
  gcovr  # scripts/coverage.sh
  socat curl netcat-openbsd
  libev-dev libuv1-dev gnuplot-nox python3  # scripts/bench-peers.sh: the peer servers, the report and its plot
  dpkg-dev xz-utils file  # the macOS link check: CppUTest's source package (zig comes from npm)
)

# shellcheck source=apt-packages.sh
source "$(dirname "$0")/apt-packages.sh"
install_missing_packages install-deps "${packages[@]}"
