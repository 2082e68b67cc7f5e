#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Installs what the Windows build (IOCP backend, tests under wine) needs, from Debian 12's packages: the
# mingw-w64 cross compiler with the posix thread model and wine. Run as root; idempotent, and quick when
# everything is there (about 30 s the first time).
set -euo pipefail
packages=(g++-mingw-w64-x86-64-posix gcc-mingw-w64-x86-64-posix wine wine64 dpkg-dev)
# shellcheck source=apt-packages.sh
source "$(dirname "$0")/apt-packages.sh"
install_missing_packages install-windows-deps "${packages[@]}"
