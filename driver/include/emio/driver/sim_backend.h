// SPDX-License-Identifier: MIT
// The simulation backend (EMIO_BACKEND=sim, tests only): a real edge-triggered EpollBackend on real fds,
// with a seeded schedule between the kernel and the driver. Each wait pulls the kernel's events into a
// fixed pending table, then a splitmix64 stream reorders them, splits IN|OUT into two events, holds some
// back for a few waits, adds spurious events for live sources and stale ones for removed tokens. The
// test binaries also cut read/write/recv/send short (sim_wrappers.cc, -Wl,--wrap=), and a cut transfer
// queues the follow-up event the kernel would have owed. Everything the contract allows (late, split,
// spurious, reordered, stale); nothing it forbids (a lost edge). The same seed replays the same schedule.
#pragma once

#include <sys/epoll.h>
#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <span>

#include "emio/alloc/token.h"
#include "emio/driver/backend_config.h"
#include "emio/driver/epoll_backend.h"
#include "emio/driver/interest.h"
#include "emio/driver/ready.h"
#include "emio/port/error.h"
#include "emio/port/result.h"

namespace emio {

// What the schedule may do beyond reordering and splitting (always on: no shared test can tell). Each
// is off by default, for the shared suites' tests that expect an event after exactly one turn(0).
struct SimSchedule {
  uint32_t max_hold_waits = 0;      // an event is delivered 0..max_hold_waits waits late
  uint32_t spurious_per_mille = 0;  // per wait: an event for a live source, within its interest
  uint32_t stale_per_mille = 0;     // per wait: an event for a recently removed token
  uint32_t cut_per_mille = 0;       // per transfer on a watched fd: the length cut to a seeded size
};

// Counted over every sim backend of the process since the last reset_sim_stats().
struct SimStats {
  uint64_t waits = 0;
  uint64_t delivered = 0;        // events handed to a driver, every kind included
  uint64_t split = 0;            // kernel events split into a read and a write event
  uint64_t held = 0;             // events delivered at least one wait late
  uint64_t spurious = 0;         // events no kernel edge asked for (within the source's interest)
  uint64_t stale_delivered = 0;  // events delivered for a token removed before the delivery
  uint64_t cuts = 0;             // transfers cut short, each followed by its event
};

// The stream every decision of the sim comes from (splitmix64): one step of `state`. The sim workload
// draws its operations from it too.
inline uint64_t sim_next(uint64_t& state) {
  uint64_t mixed = (state += 0x9e3779b97f4a7c15ULL);
  mixed = (mixed ^ (mixed >> 30)) * 0xbf58476d1ce4e5b9ULL;
  mixed = (mixed ^ (mixed >> 27)) * 0x94d049bb133111ebULL;
  return mixed ^ (mixed >> 31);
}

// The seed every sim backend derives its stream from: EMIO_SIM_SEED (read once), or 1.
uint64_t sim_seed();
// Starts the run again from `seed`: the next backend opened gets the first stream, as in a new process.
void set_sim_seed(uint64_t seed);
// Applies to backends opened afterwards; set it before Driver::init (tests reset it in teardown).
void set_sim_schedule(const SimSchedule& schedule);
SimStats sim_stats();
void reset_sim_stats();
// The heap allocations the sim backends made for their tables (two per open), never reset: they stand
// for kernel memory, so the tests' allocation counter leaves them out, as it does libkqueue's.
uint64_t sim_kernel_allocations();

enum class SimTransfer : uint8_t { read, write };
// For the test binaries' wrappers of read/write/recv/send (any thread). The length to pass to the real
// call: `length`, or a seeded cut when `fd` is watched by a sim backend for that direction.
size_t sim_transfer_length(int fd, SimTransfer transfer, size_t length);
// After the real call: a cut that moved all it was allowed queues the event for the rest.
void sim_transfer_done(int fd, SimTransfer transfer, size_t allowed, size_t asked, ssize_t moved);

class SimBackend {
 public:
  using Event = epoll_event;
  static constexpr const char* name = "sim";

  SimBackend() = default;
  SimBackend(const SimBackend&) = delete;
  SimBackend& operator=(const SimBackend&) = delete;
  ~SimBackend() { close(); }

  Error open(const BackendOptions& options);
  void close();
  Error add(int fd, Token token, Interest interest);
  // The events already pending for `token` stay queued: the driver's generation check must drop them.
  Error remove(int fd, Token token);
  // Never blocks while an event is pending (held ones included), so a late event is late by waits only.
  Result<uint32_t> wait(std::span<Event> events, int timeout_ms);

  static Token token_of(const Event& event) { return EpollBackend::token_of(event); }
  static Ready ready_of(const Event& event) { return EpollBackend::ready_of(event); }
  static constexpr bool interest_ended(const Event&) { return false; }
  static constexpr bool refuses_duplicate_fds() { return true; }
  const char* active_name() const { return name; }
  Error fallback_reason() const { return Error{}; }

  // The wrappers' side (sim_transfer_length / sim_transfer_done), any thread.
  bool cuts_transfers() const { return schedule_.cut_per_mille != 0; }
  // `length`, or a seeded cut when this backend watches `fd` for that direction.
  size_t cut_length(int fd, SimTransfer transfer, size_t length);
  // Queues the event the rest of a cut transfer is owed. True when the driver thread sleeps in the
  // kernel and must be woken to see it.
  bool queue_follow_up(int fd, SimTransfer transfer);
  void wake_driver() const { wake_driver_.wake(); }

 private:
  struct Pending {
    epoll_event event;
    uint32_t hold_waits;
    bool late;  // held back at least one wait, for the stats
  };
  struct Watched {
    bool live;  // the first token of slot 0 is all zero bits: liveness needs its own flag
    uint64_t token_bits;
    int fd;  // -1 once another registration took the number (it was closed)
    Interest interest;
  };
  static constexpr uint32_t removed_ring_size = 8;

  uint32_t reserved_for_follow_ups() const { return capacity_ + 1; }
  void take_kernel_events(std::span<Event> scratch, uint32_t count);
  void queue(epoll_event event, uint32_t hold_waits);
  void add_spurious_and_stale();
  uint32_t deliver(std::span<Event> events);
  bool is_live(uint64_t token_bits) const;
  uint64_t draw();
  uint32_t draw_hold_waits();  // 0..max_hold_waits
  Watched* watched_fd(int fd);

  EpollBackend kernel_;
  std::mutex lock_;  // add/remove and the wrappers run on any thread, wait on the driver's
  Pending* pending_ = nullptr;
  uint32_t pending_count_ = 0;
  uint32_t pending_capacity_ = 0;
  Watched* watched_ = nullptr;  // indexed by token index; the driver's wake token has its own
  Watched wake_{};
  uint32_t capacity_ = 0;
  uint64_t removed_[removed_ring_size] = {};
  uint32_t removed_count_ = 0;
  uint32_t removed_next_ = 0;
  uint64_t stream_ = 0;
  SimSchedule schedule_{};
  Waker wake_driver_{};
  bool kernel_waiting_ = false;  // the driver thread blocks in epoll_wait: a follow-up must wake it
};

}  // namespace emio
