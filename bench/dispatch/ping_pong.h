// SPDX-License-Identifier: MIT
// The workload both loops run, so that they do exactly the same system calls per event: N
// socketpairs, one message in flight in each. An end that becomes readable reads until EAGAIN (the
// edge-triggered contract) and writes every message back through the same socket, until the pair has
// made its number of hops.
#pragma once

#include <cstddef>
#include <cstdint>

#include "emio/port/error.h"
#include "emio/port/fd.h"

namespace emio_bench {

inline constexpr uint32_t max_pairs = 1024;
inline constexpr uint32_t max_endpoints = 2 * max_pairs;
inline constexpr size_t message_bytes = 64;
// Larger than a message, so that one read takes a whole message and the next one sees EAGAIN.
inline constexpr size_t read_buffer_bytes = 4096;
// Epoll events taken per wait, the same for the raw loop and the driver.
inline constexpr uint32_t event_capacity = 256;

// What the loops did, to show that both did the same work. The loops count events and waits.
struct Counters {
  uint64_t events = 0;  // readiness events handled (epoll events, or events the driver dispatched)
  uint64_t waits = 0;   // epoll_wait calls
  uint64_t reads = 0;   // read calls, including the one that returns EAGAIN
  uint64_t writes = 0;
};

// One end of a socketpair: what an epoll event or a waker leads to.
struct Endpoint {
  emio::Fd fd;
  uint32_t pair_index = 0;
};

class PingPong {
 public:
  PingPong() = default;
  PingPong(const PingPong&) = delete;
  PingPong& operator=(const PingPong&) = delete;

  // Makes `pair_count` non-blocking AF_UNIX stream socketpairs.
  emio::Error open(uint32_t pair_count);
  // Puts one message into every pair; each pair then makes 2 * `round_trips` hops, one event each.
  emio::Error start(uint32_t round_trips);
  // Reads until EAGAIN, writing each message back unless its pair has made all its hops.
  emio::Error drain(Endpoint& endpoint);
  bool finished() const { return finished_pairs_ == pair_count_; }

  uint32_t endpoint_count() const { return 2 * pair_count_; }
  Endpoint& endpoint(uint32_t index) { return endpoints_[index]; }
  Counters counters;

 private:
  emio::Error reply(Endpoint& endpoint);
  emio::Error send_message(int fd);

  Endpoint endpoints_[max_endpoints];
  uint32_t hops_left_[max_pairs] = {};
  uint32_t pair_count_ = 0;
  uint32_t finished_pairs_ = 0;
  unsigned char buffer_[read_buffer_bytes] = {};
};

}  // namespace emio_bench
