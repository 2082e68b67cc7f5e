// SPDX-License-Identifier: MIT
// The process-wide side of the simulation backend: its seed and schedule, its counters, and the table
// of open sim backends that the transfer wrappers search for the fd they were given.
#pragma once

#include <cstdint>

#include "emio/driver/sim_backend.h"
#include "emio/port/error.h"

namespace emio::sim_registry {

enum class Counter : uint8_t { waits, delivered, split, held, spurious, stale_delivered, cuts, count_ };

// At most this many sim backends open at once (the tests open a few); past it, open() says ENOMEM.
inline constexpr uint32_t max_backends = 64;

Error enter(SimBackend* backend);
void leave(SimBackend* backend);
SimSchedule schedule();
// Each backend opened gets its own stream, derived from the seed and how many opened before it.
uint64_t stream_for_next_backend();
void count(Counter counter);
void count_kernel_allocations(uint64_t allocations);

}  // namespace emio::sim_registry
