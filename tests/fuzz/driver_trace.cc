// SPDX-License-Identifier: MIT
#include "fuzz/driver_trace.h"

#include <cinttypes>
#include <cstdio>

namespace emio_fuzz {
namespace {

const char* name_of(Step step) {
  constexpr const char* names[] = {"input begins",
                                   "add",
                                   "deregister",
                                   "turn",
                                   "wake",
                                   "poll_ready",
                                   "clear_waker",
                                   "drain_and_clear",
                                   "write",
                                   "reopen",
                                   "submit",
                                   "feed_operations",
                                   "drain_operations"};
  static_assert(sizeof names / sizeof names[0] == static_cast<int>(Step::drain_operations) + 1);
  return names[static_cast<int>(step)];
}

}  // namespace

void StepTrace::print(const char* backend_name) const {
  const uint64_t first = recorded_ > capacity ? recorded_ - capacity : 0;
  std::fprintf(stderr, "the last %" PRIu64 " steps on the %s driver (registration, argument, outcome):\n",
               recorded_ - first, backend_name);
  for (uint64_t at = first; at < recorded_; ++at) {
    const TraceEntry& entry = entries_[at % capacity];
    std::fprintf(stderr, "  %6" PRIu64 " %-16s r%-2d %4d %" PRId32 "\n", at, name_of(entry.step), entry.registration,
                 entry.argument, entry.outcome);
  }
}

}  // namespace emio_fuzz
