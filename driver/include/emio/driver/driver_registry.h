// SPDX-License-Identifier: MIT
// Which drivers are alive, process-wide, so that a Handle kept past its Driver's destruction is caught
// instead of followed into freed memory. The usual way there: an IO resource in static storage (a global
// TcpListener) whose destructor runs at exit, after main()'s Executor is gone; it used to crash the
// daemon with SIGSEGV in Handle::deregister, logged by systemd as a crash on every stop.
//
// A fixed table of live_driver_capacity entries, each the instance number of the driver in it. A driver
// takes one when constructed and clears it when destroyed; its Handles carry the number and compare.
// Past the capacity a driver works unguarded (instance 0), never refused.
#pragma once

#include <atomic>
#include <cstdint>

namespace emio::driver_registry {

inline constexpr uint32_t live_driver_capacity = 64;

// An instance number: the entry's index in the low bits, a process-wide count above them; 0 for none.
using Instance = uint64_t;

Instance enter();
void leave(Instance instance);
// True while the driver that entered as `instance` lives (always for instance 0: unguarded).
bool alive(Instance instance);

}  // namespace emio::driver_registry
