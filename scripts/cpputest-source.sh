# SPDX-License-Identifier: MIT
# Sourced by the scripts that build CppUTest 4.0 for a target Debian does not package it for (macOS,
# Windows): fetch_cpputest_source ROOT unpacks Debian's source package of it into
# ROOT/build/tools/cpputest-source/cpputest-4.0 once, through a private deb-src list (the machine's own
# mirror, read from its apt sources; nothing is changed in /etc), and prints that folder.
fetch_cpputest_source() {
  local root=$1
  local apt_dir=$root/build/tools/apt source_dir=$root/build/tools/cpputest-source
  if [ ! -d "$source_dir/cpputest-4.0" ]; then
    mkdir -p "$apt_dir/lists/partial" "$source_dir"
    local mirror
    mirror=$(awk '/^URIs:/ { print $2; exit }' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
    [ -n "$mirror" ] || mirror=$(awk '$1 == "deb" { print $2; exit }' /etc/apt/sources.list)
    echo "deb-src $mirror bookworm main" >"$apt_dir/sources.list"
    local apt_options=(-q -o "Dir::Etc::SourceList=$apt_dir/sources.list" -o Dir::Etc::SourceParts=/dev/null
                       -o "Dir::State::Lists=$apt_dir/lists")
    apt-get "${apt_options[@]}" update >"$apt_dir/update.log" 2>&1
    (cd "$source_dir" && apt-get "${apt_options[@]}" source cpputest=4.0-2 >"$apt_dir/source.log" 2>&1)
  fi
  echo "$source_dir/cpputest-4.0"
}
