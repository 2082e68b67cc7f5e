// SPDX-License-Identifier: MIT
#include "emio/driver/driver_registry.h"

namespace emio::driver_registry {
namespace {

static_assert((live_driver_capacity & (live_driver_capacity - 1)) == 0, "the index is the low bits");
// Trivially destructible, so that the table outlives every static object that may still check it at exit.
std::atomic<Instance> live_drivers[live_driver_capacity];
std::atomic<uint64_t> entered_count{0};

}  // namespace

Instance enter() {
  const uint64_t count = entered_count.fetch_add(1, std::memory_order_relaxed) + 1;
  for (uint32_t probe = 0; probe < live_driver_capacity; ++probe) {
    const uint32_t index = static_cast<uint32_t>(count + probe) % live_driver_capacity;
    const Instance instance = count * live_driver_capacity + index;
    Instance vacant = 0;
    if (live_drivers[index].compare_exchange_strong(vacant, instance, std::memory_order_acq_rel)) return instance;
  }
  return 0;
}

void leave(Instance instance) {
  if (instance == 0) return;
  live_drivers[instance % live_driver_capacity].store(0, std::memory_order_release);
}

bool alive(Instance instance) {
  return instance == 0 || live_drivers[instance % live_driver_capacity].load(std::memory_order_acquire) == instance;
}

}  // namespace emio::driver_registry
