#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Installs what the Windows build (IOCP backend, tests under wine) needs, from Debian 12's packages: the
# mingw-w64 cross compiler with the posix thread model and wine. Run as root; idempotent, and quick when
# everything is there (about 30 s the first time).
set -euo pipefail
packages=(g++-mingw-w64-x86-64-posix gcc-mingw-w64-x86-64-posix wine wine64 dpkg-dev)
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-windows-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
