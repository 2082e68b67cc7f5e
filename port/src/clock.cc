// SPDX-License-Identifier: MIT
#include "emio/port/clock.h"

#include <time.h>

namespace emio {

uint64_t monotonic_now_ns() {
  timespec now{};
  // CLOCK_MONOTONIC cannot fail with a valid clock id and a valid pointer.
  (void)::clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<uint64_t>(now.tv_sec) * 1000000000u + static_cast<uint64_t>(now.tv_nsec);
}

}  // namespace emio
