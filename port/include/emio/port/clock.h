// SPDX-License-Identifier: MIT
// The monotonic clock: unaffected by wall-clock changes (NTP, RTC set at boot on boards without a battery).
#pragma once

#include <cstdint>

namespace emio {

uint64_t monotonic_now_ns();
inline uint64_t monotonic_now_ms() { return monotonic_now_ns() / 1000000u; }

}  // namespace emio
