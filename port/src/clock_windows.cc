// SPDX-License-Identifier: MIT
// The monotonic clock on Windows: QueryPerformanceCounter, which never goes back and ignores wall-clock
// changes. Its frequency is fixed at boot, so it is read once.
#include <windows.h>

#include "emio/port/clock.h"

namespace emio {

uint64_t monotonic_now_ns() {
  static const uint64_t ticks_per_second = [] {
    LARGE_INTEGER frequency;
    (void)::QueryPerformanceFrequency(&frequency);  // cannot fail on Windows XP and later
    return static_cast<uint64_t>(frequency.QuadPart);
  }();
  LARGE_INTEGER now;
  (void)::QueryPerformanceCounter(&now);
  const uint64_t ticks = static_cast<uint64_t>(now.QuadPart);
  // Whole seconds and the remainder apart: ticks * 10^9 overflows 64 bits after 30 minutes at 10 MHz.
  return ticks / ticks_per_second * 1000000000u + ticks % ticks_per_second * 1000000000u / ticks_per_second;
}

}  // namespace emio
