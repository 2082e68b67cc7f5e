// Per-source state shared by the driver (which sets readiness) and the tasks waiting on the source.
//
// Everything the driver and the tasks race on lives in one atomic 64-bit word:
//   bits  0-5   readiness (Ready bits)
//   bit   6     shut down
//   bits  7-18  read tick: bumped by every event that concerns reading
//   bits 19-30  write tick: bumped by every event that concerns writing
//   bits 32-63  generation of the registration that owns the slot
// The generation in the word makes "is this event still for this registration?" and "set readiness"
// one atomic step, so an event whose token went stale is dropped even when the slot is being reused on
// another thread at the same moment. The per-direction ticks let a task that saw EAGAIN clear readiness
// only if no event arrived since it looked; one shared tick livelocks (tokio-rs/tokio#8054).
#pragma once

#include <atomic>
#include <cstdint>

#include "emio/driver/interest.h"
#include "emio/driver/ready.h"
#include "emio/driver/waker.h"

namespace emio {

enum class Direction : uint8_t { read, write };

// A snapshot of one direction's readiness, to hand back to clear_readiness.
struct ReadyEvent {
  Ready ready;
  uint16_t tick = 0;
  Direction direction = Direction::read;
  bool shut_down = false;

  // True when the waiter should stop waiting: something happened, or the driver is gone.
  bool is_ready() const { return shut_down || !ready.empty(); }
};

class ScheduledIo {
 public:
  static constexpr unsigned tick_bits = 12;
  static constexpr uint64_t shut_down_bit = uint64_t{1} << Ready::bit_count;
  static constexpr unsigned read_tick_shift = Ready::bit_count + 1;
  static constexpr unsigned write_tick_shift = read_tick_shift + tick_bits;
  static constexpr unsigned generation_shift = 32;
  static constexpr uint64_t tick_mask = (uint64_t{1} << tick_bits) - 1;

  // The Ready bits that concern each direction. An error wakes both: either operation will report it.
  static constexpr Ready read_mask = Ready::readable | Ready::read_closed | Ready::priority | Ready::error;
  static constexpr Ready write_mask = Ready::writable | Ready::write_closed | Ready::error;

  ScheduledIo() = default;
  ScheduledIo(const ScheduledIo&) = delete;
  ScheduledIo& operator=(const ScheduledIo&) = delete;

  // --- The driver's side ---

  // Makes the slot belong to a new registration (or to none, on release): clears readiness, ticks,
  // shutdown and wakers, and stamps the generation that events must carry from now on.
  void reset(uint32_t generation, int fd, Interest interest);
  // Merges `ready` into the readiness if `generation` still owns the slot; false when the event is stale.
  bool set_readiness(uint32_t generation, Ready ready);
  // Calls the wakers of the directions `ready` concerns, outside the waker lock.
  void wake(Ready ready);
  // Marks the source shut down and wakes both waiters; they see ReadyEvent::shut_down.
  void shutdown();

  // --- The task's side ---

  ReadyEvent readiness(Direction direction) const;
  // Stores `waker` unless the direction is already ready, then looks again: an event that raced with the
  // store is seen either by this look or by the driver, which then finds the waker. Never lost.
  ReadyEvent poll_ready(Direction direction, const Waker& waker);
  // After an operation hit EAGAIN: clears what `event` saw, unless a newer event for that direction
  // arrived meanwhile (its tick moved). Closed states stay.
  void clear_readiness(const ReadyEvent& event);
  // Forgets a stored waker (a task that stops waiting, e.g. on a timeout).
  void clear_waker(Direction direction);

  int fd() const { return fd_; }
  Interest interest() const { return interest_; }
  uint32_t generation() const {
    return static_cast<uint32_t>(state_.load(std::memory_order_acquire) >> generation_shift);
  }

 private:
  void lock_wakers();
  void unlock_wakers() { waker_lock_.clear(std::memory_order_release); }
  Waker& waker_for(Direction direction) { return direction == Direction::read ? reader_ : writer_; }

  std::atomic<uint64_t> state_{0};
  Waker reader_;
  Waker writer_;
  int32_t fd_ = -1;
  Interest interest_;
  // Held for a few instructions at a time (store or take a waker), never while calling one.
  std::atomic_flag waker_lock_ = ATOMIC_FLAG_INIT;
};

static_assert(ScheduledIo::write_tick_shift + ScheduledIo::tick_bits <= ScheduledIo::generation_shift,
              "ticks must not overlap the generation");
static_assert(std::atomic<uint64_t>::is_always_lock_free, "the state word must be lock-free on every target");
// Aim of the design note: all per-registration state in one 64-byte cache line on 64-bit targets.
static_assert(sizeof(void*) != 8 || sizeof(ScheduledIo) <= 56, "ScheduledIo grew: arena slots exceed 64 bytes");

}  // namespace emio
