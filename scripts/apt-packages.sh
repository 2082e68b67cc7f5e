# SPDX-License-Identifier: MIT
# Sourced by the install scripts: install_missing_packages WHO PACKAGE... installs, from Debian's
# packages, those of PACKAGE... that are not installed yet (apt-get update only then), saying so as WHO.
install_missing_packages() {
  local who=$1 package missing=()
  shift
  for package in "$@"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' || missing+=("$package")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "$who: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}
