#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Installs what the ARM cross builds need, from Debian 12's packages only. Run as root; idempotent and
# quick when everything is already there.
#
#   scripts/install-cross-deps.sh [aarch64|armhf|all]    (default: all)
#
# Host side (apt, amd64): the cross compilers and qemu-user. Target side: liburing, CppUTest and, for the
# size report, libev and libuv, unpacked with `dpkg -x` into a private sysroot per target,
# build/sysroots/<triplet>, which git ignores. The target packages come from a private apt state
# (build/sysroots/apt) that knows only arm64 and armhf: the host's dpkg never gets a foreign
# architecture, so no apt solution can upgrade or remove host packages (g++, clang) to match, and the
# stale armhf security index that broke `apt-get update` with multiarch is never read.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
sysroots_dir="${EMIO_CROSS_SYSROOTS:-$repo_root/build/sysroots}"
debian_mirror="${EMIO_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
debian_suite=bookworm

host_packages=(g++-aarch64-linux-gnu g++-arm-linux-gnueabihf qemu-user)
# Run-time packages come along with the -dev ones so that dynamically linked tests find their .so files.
target_packages=(liburing-dev liburing2 libcpputest-dev libev-dev libev4 libuv1-dev libuv1)

usage() { echo "usage: $0 [aarch64|armhf|all]" >&2; exit 2; }

debian_arch_of() {
  case "$1" in
    aarch64) echo arm64 ;;
    armhf) echo armhf ;;
    *) usage ;;
  esac
}

triplet_of() {
  case "$1" in
    aarch64) echo aarch64-linux-gnu ;;
    armhf) echo arm-linux-gnueabihf ;;
  esac
}

install_host_packages() {
  local missing=() package
  for package in "${host_packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep >/dev/null 'install ok installed' || missing+=("$package")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "install-cross-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # --no-remove: abort rather than accept a solution that removes anything (g++, clang).
  apt-get install -y -qq --no-install-recommends --no-remove "${missing[@]}" >/dev/null
}

# apt-get with a state of its own under $sysroots_dir/apt: downloads only, never installs.
private_apt() {
  local apt_dir="$sysroots_dir/apt"
  apt-get -q -o APT::Sandbox::User=root \
    -o Dir::State="$apt_dir/state" -o Dir::State::status="$apt_dir/state/status" \
    -o Dir::Cache="$apt_dir/cache" -o Dir::Etc::SourceList="$apt_dir/sources.list" \
    -o Dir::Etc::SourceParts=/dev/null -o Dir::Etc::Preferences=/dev/null \
    -o Dir::Etc::PreferencesParts=/dev/null \
    -o APT::Architecture=arm64 -o APT::Architectures::=arm64 -o APT::Architectures::=armhf \
    "$@"
}

update_private_apt() {
  local apt_dir="$sysroots_dir/apt"
  mkdir -p "$apt_dir/state/lists/partial" "$apt_dir/cache/archives/partial"
  touch "$apt_dir/state/status"
  cat >"$apt_dir/sources.list" <<SOURCES
deb [arch=arm64,armhf signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $debian_mirror $debian_suite main
deb [arch=arm64,armhf signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $debian_mirror $debian_suite-updates main
SOURCES
  private_apt update -qq >/dev/null
}

download_target_packages() {
  local arch="$1" download_dir="$2"
  (cd "$download_dir" && private_apt download -qq "${target_packages[@]/%/:$arch}" >/dev/null 2>&1)
}

# Unpacks the target packages into build/sysroots/<triplet> unless the stamp says this exact set is there.
install_target_sysroot() {
  local target="$1" arch triplet sysroot stamp wanted
  arch="$(debian_arch_of "$target")"
  triplet="$(triplet_of "$target")"
  sysroot="$sysroots_dir/$triplet"
  stamp="$sysroot/.emio-packages"
  wanted="$arch ${target_packages[*]}"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$wanted" ]; then
    return 0
  fi
  echo "install-cross-deps: unpacking ${target_packages[*]} ($arch) into $sysroot"
  local download_dir="$sysroots_dir/apt/debs/$arch" deb
  rm -rf "$sysroot" "$download_dir"
  mkdir -p "$sysroot" "$download_dir"
  # A missing or outdated index (the mirror dropped an old version) fails the download: refresh, retry once.
  download_target_packages "$arch" "$download_dir" || { update_private_apt && download_target_packages "$arch" "$download_dir"; }
  for deb in "$download_dir"/*.deb; do
    dpkg-deb -x "$deb" "$sysroot"
  done
  echo "$wanted" >"$stamp"
}

main() {
  local selection="${1:-all}" targets
  case "$selection" in
    all) targets=(aarch64 armhf) ;;
    aarch64 | armhf) targets=("$selection") ;;
    *) usage ;;
  esac
  install_host_packages
  local target
  for target in "${targets[@]}"; do
    install_target_sysroot "$target"
  done
}

main "$@"
