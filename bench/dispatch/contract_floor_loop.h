// SPDX-License-Identifier: MIT
// The waker contract's floor: the ping-pong through the smallest loop that still keeps what issue 8's
// contract asks of a driver on epoll, written without any of emio's layers. It is not a driver to use;
// it answers one question: how many instructions per event does the contract itself cost, at the least,
// beside the raw epoll loop? What it keeps, per source, and why each piece is required:
// - a generation beside the slot's index in the event's data, so that an event for a slot's previous
//   owner is dropped, never dispatched to the new one;
// - one atomic word: the readiness bit, a tick that every event bumps (a task clears only the readiness
//   it saw: without the tick a second event that sets the same bit again would be lost), a "waiter
//   registered" bit, and a "wake running" bit;
// - the dispatch claims the waiter and marks the wake running in one compare-and-swap, calls the
//   waker (a function and a context) and then releases the running bit: that second read-modify-write
//   is what lets clear_waker on another thread wait for a call in progress, so that no waker runs after
//   clear_waker returned (no clear_waker runs in this benchmark; the bit is paid for all the same);
// - the task stores its waker and parks with one compare-and-swap, and after EAGAIN clears what it saw
//   and parks again in one compare-and-swap, which fails when a newer event bumped the tick.
#pragma once

#include <sys/epoll.h>

#include <atomic>
#include <cstdint>

#include "emio/driver/backend_config.h"
#include "emio/port/error.h"
#include "emio/port/fd.h"
#include "ping_pong.h"
#include "raw_epoll_loop.h"

namespace emio_bench {

class ContractFloorLoop {
 public:
  static constexpr const char* mode_name = "contract-floor";

  emio::Error open(PingPong& game, emio::BackendChoice /*backend: always epoll*/);
  emio::Error run(PingPong& game);
  static const char* backend_name() { return "epoll"; }

 private:
  struct Waker {
    void (*wake)(void* context) = nullptr;
    void* context = nullptr;
  };
  struct Source {
    std::atomic<uint64_t> word{0};
    uint32_t generation = 0;
    Waker waker;
    ContractFloorLoop* loop = nullptr;
    Endpoint* endpoint = nullptr;
  };

  static constexpr uint64_t readable_bit = 1;
  static constexpr uint64_t waiter_bit = 2;
  static constexpr uint64_t running_bit = 4;
  // The tick in the upper half: it wraps without touching the bits.
  static constexpr uint64_t tick_one = uint64_t{1} << 32;

  static void queue_source(void* context);
  void dispatch(const epoll_event& event);
  emio::Error serve(PingPong& game, Source& source);

  emio::Fd epoll_;
  epoll_event events_[event_capacity] = {};
  Source sources_[max_endpoints];
  uint32_t source_count_ = 0;
  Source* ready_[max_endpoints] = {};
  uint32_t ready_count_ = 0;
};

}  // namespace emio_bench
