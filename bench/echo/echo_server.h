// SPDX-License-Identifier: MIT
// The echo server's modes share this: a listener, a fixed table of connections, and the counters the
// server prints when its last client has gone.
#pragma once

#include <cstdint>

#include "emio/driver/driver.h"

namespace emio_bench {

inline constexpr uint32_t message_bytes = 64;
inline constexpr uint32_t max_connections = 1024;

struct EchoCounters {
  uint64_t bytes_echoed = 0;
  uint32_t accepted = 0;
  uint32_t closed = 0;
};

struct ServerSetup {
  emio::Driver* driver;
  int listener_fd;
  uint32_t connections;  // the server stops once this many have come and gone
  EchoCounters* counters;
};

// Readiness: the listener and every connection registered with the driver, served from their wakers.
void run_readiness_server(const ServerSetup& setup);
// Completion operations: accept, recv and send records, each submitted again from its completion.
// `multishot`: one multishot accept and one multishot recv per connection (kernel-bypass mode).
void run_operations_server(const ServerSetup& setup, bool multishot);

// Turns until every expected connection came and went, or `deadline_ms` (monotonic) passed.
void turn_until_done(const ServerSetup& setup, uint64_t deadline_ms);

}  // namespace emio_bench
