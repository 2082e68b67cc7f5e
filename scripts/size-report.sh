#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Measures emio's code size and a Driver's RAM on the ARM targets and writes docs/size-report.md.
#
#   scripts/size-report.sh            (about a minute when the cross toolchains are installed)
#
# For aarch64 and armhf, each backend that configures (epoll; uring once the tree has it) and -Os / -O2:
# text, data and bss of libemio_driver.a + libemio_port.a (the core), and of libemio_runtime.a when the
# tree has that target. Beside them, Debian's libev and libuv for the same targets. RAM: sizeof of the
# real types, printed by scripts/size_report/driver_ram.cc built for each target and run under qemu-user.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"
sysroots_dir="${EMIO_CROSS_SYSROOTS:-$repo_root/build/sysroots}"
size_dir="$repo_root/build/size"
report="$repo_root/docs/size-report.md"

targets=(aarch64 armhf)
backends=(epoll uring)
optimisations=(Os O2)
registration_counts=(64 1024 16384)
core_text_aim_bytes=16384

triplet_of() { case "$1" in aarch64) echo aarch64-linux-gnu ;; armhf) echo arm-linux-gnueabihf ;; esac; }
qemu_of() { case "$1" in aarch64) echo qemu-aarch64 ;; armhf) echo qemu-arm ;; esac; }
debian_arch_of() { case "$1" in aarch64) echo arm64 ;; armhf) echo armhf ;; esac; }

# "text data bss" summed over the archives given, as the target's size(1) counts them.
archive_sizes() {
  local triplet="$1"
  shift
  "$triplet-size" -t "$@" | awk 'END { print $1, $2, $3 }'
}

# Configures and builds the libraries of one configuration; prints nothing, fails when it does not configure.
build_configuration() {
  local target="$1" backend="$2" optimisation="$3" build_dir="$4"
  cmake --preset "$target" -B "$build_dir" -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_C_FLAGS_RELEASE="-$optimisation -DNDEBUG" -DCMAKE_CXX_FLAGS_RELEASE="-$optimisation -DNDEBUG" \
    -DEMIO_BACKEND="$backend" -DEMIO_BUILD_TESTS=OFF -DEMIO_BUILD_BENCH=OFF >"$build_dir.log" 2>&1 || return 1
  cmake --build "$build_dir" --target emio_driver emio_port >>"$build_dir.log" 2>&1
  if has_runtime "$build_dir"; then
    cmake --build "$build_dir" --target emio_runtime >>"$build_dir.log" 2>&1
  fi
}

has_runtime() { cmake --build "$1" --target help 2>/dev/null | grep >/dev/null '^emio_runtime:'; }

# Prints "key value" lines: the Driver's type sizes on the target (see driver_ram.cc).
driver_type_sizes() {
  local target="$1" build_dir="$2" triplet
  triplet="$(triplet_of "$target")"
  "$triplet-g++" -std=c++20 -O2 -fno-exceptions -fno-rtti \
    -I alloc/include -I port/include -I driver/include -I "$build_dir/generated/include" \
    -isystem "$sysroots_dir/$triplet/usr/include" \
    scripts/size_report/driver_ram.cc -o "$build_dir/driver_ram"
  "$(qemu_of "$target")" -L "/usr/$triplet" "$build_dir/driver_ram"
}

value_of() { awk -v key="$1" '$1 == key { print $2 }'; }

package_version() {
  local arch="$1" package="$2" debs
  debs=("$sysroots_dir/apt/debs/$arch/${package}_"*.deb)
  dpkg-deb -f "${debs[0]}" Version 2>/dev/null || echo "?"
}

kib() { awk -v bytes="$1" 'BEGIN { printf "%.1f", bytes / 1024 }'; }

code_table=""
ram_table=""
notes=""
aarch64_core_text=""

measure_configuration() {
  local target="$1" backend="$2" optimisation="$3" triplet build_dir core runtime="" runtime_cell total_text
  triplet="$(triplet_of "$target")"
  build_dir="$size_dir/$target-$backend-$optimisation"
  if ! build_configuration "$target" "$backend" "$optimisation" "$build_dir"; then
    notes+="- $target, EMIO_BACKEND=$backend: does not configure in this tree yet ($(grep -m1 -A1 'CMake Error' "$build_dir.log" | tail -n 1 | sed 's/^ *//'))."$'\n'
    return 1
  fi
  core="$(archive_sizes "$triplet" "$build_dir/driver/libemio_driver.a" "$build_dir/port/libemio_port.a")"
  read -r core_text core_data core_bss <<<"$core"
  total_text="$core_text"
  runtime_cell="not built yet"
  if has_runtime "$build_dir"; then
    runtime="$(archive_sizes "$triplet" "$(find "$build_dir" -name libemio_runtime.a | head -n 1)")"
    read -r runtime_text runtime_data runtime_bss <<<"$runtime"
    runtime_cell="$runtime_text / $runtime_data / $runtime_bss"
    total_text=$((core_text + runtime_text))
  fi
  code_table+="| $target | $backend | -$optimisation | $core_text ($(kib "$core_text") KiB) | $core_data | $core_bss | $runtime_cell | $total_text |"$'\n'
  if [ "$target" = aarch64 ] && [ "$backend" = epoll ] && [ "$optimisation" = Os ]; then
    aarch64_core_text="$core_text"
  fi
}

measure_ram() {
  local target="$1" backend="$2" build_dir sizes driver slot event events count bytes ring cells=""
  build_dir="$size_dir/$target-$backend-Os"
  sizes="$(driver_type_sizes "$target" "$build_dir")"
  driver="$(value_of sizeof_driver <<<"$sizes")"
  slot="$(value_of sizeof_registration_slot <<<"$sizes")"
  event="$(value_of sizeof_event <<<"$sizes")"
  events="$(value_of default_event_capacity <<<"$sizes")"
  for count in "${registration_counts[@]}"; do
    bytes=$((driver + count * slot + events * event))
    cells+=" $bytes ($(kib "$bytes") KiB) |"
  done
  ring="$(value_of uring_ring_bytes <<<"$sizes")"
  if [ -n "$ring" ]; then
    ring="$ring ($(value_of uring_sq_entries <<<"$sizes") SQEs), when io_uring runs"
  else
    ring="none"
  fi
  ram_table+="| $target | $backend | $driver | $slot | $events x $event |$cells $ring |"$'\n'
}

comparison_rows=""
measure_comparison() {
  local target="$1" triplet arch libdir sizes
  triplet="$(triplet_of "$target")"
  arch="$(debian_arch_of "$target")"
  libdir="$sysroots_dir/$triplet/usr/lib/$triplet"
  sizes="$(archive_sizes "$triplet" "$libdir/libev.a")"
  comparison_rows+="| $target | libev $(package_version "$arch" libev-dev) (libev.a) | ${sizes// / | } |"$'\n'
  libev_text["$target"]="${sizes%% *}"
  sizes="$(archive_sizes "$triplet" "$libdir/libuv_a.a")"
  comparison_rows+="| $target | libuv $(package_version "$arch" libuv1-dev) (libuv_a.a) | ${sizes// / | } |"$'\n'
  sizes="$(archive_sizes "$triplet" "$libdir/liburing.a")"
  comparison_rows+="| $target | liburing $(package_version "$arch" liburing-dev) (liburing.a, linked by emio's io_uring build) | ${sizes// / | } |"$'\n'
}

main() {
  "$repo_root/scripts/install-cross-deps.sh" all
  mkdir -p "$size_dir" docs
  declare -gA libev_text
  local target backend optimisation configured
  for target in "${targets[@]}"; do
    for backend in "${backends[@]}"; do
      configured=yes
      for optimisation in "${optimisations[@]}"; do
        measure_configuration "$target" "$backend" "$optimisation" || { configured=no; break; }
      done
      [ "$configured" = yes ] && measure_ram "$target" "$backend"
    done
    measure_comparison "$target"
  done
  write_report
  cat "$report"
}

write_report() {
  local verdict
  verdict="core (driver + port, epoll) on aarch64 at -Os: $aarch64_core_text bytes of text"
  verdict+="; aim under $core_text_aim_bytes: $([ "$aarch64_core_text" -lt "$core_text_aim_bytes" ] && echo met || echo NOT met)"
  verdict+="; libev.a on aarch64: ${libev_text[aarch64]} bytes: $([ "$aarch64_core_text" -lt "${libev_text[aarch64]}" ] && echo smaller || echo NOT smaller)."
  cat >"$report" <<REPORT
# emio size report

Generated by \`scripts/size-report.sh\`; do not edit by hand. Compilers: Debian's
aarch64-linux-gnu-g++ $(aarch64-linux-gnu-g++ -dumpfullversion) and arm-linux-gnueabihf-g++ $(arm-linux-gnueabihf-g++ -dumpfullversion),
\`-fno-exceptions -fno-rtti\`, \`-Os\` or \`-O2\` with \`-DNDEBUG\`. Sizes in bytes, from the target's
\`size -t\` over the static archives (every object file in them, so an upper bound of what a program links).

**Aim** (issue 5): $verdict

## Code: text, data and bss of the static libraries

Core = libemio_driver.a + libemio_port.a (alloc/ is header-only). Runtime = libemio_runtime.a (text / data / bss).
Total text = core + runtime.

| target | backend | opt | core text | core data | core bss | runtime text / data / bss | total text |
| --- | --- | --- | --- | --- | --- | --- | --- |
$code_table
$notes
## For comparison: Debian's libev and libuv for the same targets (and liburing)

Debian's own builds (its default -O2, every backend and feature compiled in: libev.a has the select, poll,
epoll and io_uring backends, timers, signals, child watchers and its libevent compatibility layer, event.o;
libuv has its thread pool, file system, DNS, process, TTY and UDP/TCP stream layers), so they do more than
emio's core. A like-for-like feature comparison would be smaller for both; the figures are what a firmware
image pays when it links them.

| target | library | text | data | bss |
| --- | --- | --- | --- | --- |
$comparison_rows
## RAM a Driver takes

sizeof of the real types on each target (scripts/size_report/driver_ram.cc, run under qemu-user):
sizeof(emio::Driver) + registrations x sizeof(emio::RegistrationSlot) + event_capacity x
sizeof(Backend::Event), with the default event capacity. In an io_uring build the Driver holds both
backends (epoll is the fallback). The io_uring ring is allocated by the kernel and mapped into the
process when io_uring runs: SQEs + SQ index array + CQEs (twice as many) for the default ring size, plus
two ring headers, rounded up to pages; before Linux 5.12 it counts against RLIMIT_MEMLOCK. Under qemu-user
io_uring falls back to epoll and no ring exists. Kernel memory for epoll's per-fd items is not counted.

| target | backend | sizeof(Driver) | sizeof(RegistrationSlot) | events x sizeof(Event) | 64 registrations | 1024 registrations | 16384 registrations | io_uring ring, bytes |
| --- | --- | --- | --- | --- | --- | --- | --- | --- |
$ram_table
REPORT
}

main "$@"
