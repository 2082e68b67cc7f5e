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

  ReadyEvent readiness(Direction direction) const {
    return event_from(state_.load(std::memory_order_acquire), direction);
  }
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
  static constexpr uint64_t readiness_mask = (uint64_t{1} << Ready::bit_count) - 1;

  static constexpr unsigned tick_shift(Direction direction) {
    return direction == Direction::read ? read_tick_shift : write_tick_shift;
  }
  static constexpr uint16_t tick_of(uint64_t state, Direction direction) {
    return static_cast<uint16_t>((state >> tick_shift(direction)) & tick_mask);
  }
  static constexpr uint64_t bump_tick(uint64_t state, Direction direction) {
    const unsigned shift = tick_shift(direction);
    const uint64_t next = ((state >> shift) + 1) & tick_mask;
    return (state & ~(tick_mask << shift)) | (next << shift);
  }
  static constexpr Ready mask_of(Direction direction) { return direction == Direction::read ? read_mask : write_mask; }
  static constexpr ReadyEvent event_from(uint64_t state, Direction direction) {
    ReadyEvent event;
    event.ready = Ready::from_bits(static_cast<unsigned>(state & readiness_mask)) & mask_of(direction);
    event.tick = tick_of(state, direction);
    event.direction = direction;
    event.shut_down = (state & shut_down_bit) != 0;
    return event;
  }

  void lock_wakers() {
    while (waker_lock_.test_and_set(std::memory_order_acquire)) {
      // Spin: the holder runs a handful of instructions and never blocks.
    }
  }
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

// The hot path, inline: every event and every wait goes through these, and a call into another
// translation unit per step costs more than the steps themselves (bench/dispatch).

inline bool ScheduledIo::set_readiness(uint32_t generation, Ready ready) {
  uint64_t current = state_.load(std::memory_order_acquire);
  for (;;) {
    if (static_cast<uint32_t>(current >> generation_shift) != generation) return false;
    uint64_t next = current | ready.bits();
    if (ready.intersects(read_mask)) next = bump_tick(next, Direction::read);
    if (ready.intersects(write_mask)) next = bump_tick(next, Direction::write);
    if (state_.compare_exchange_weak(current, next, std::memory_order_acq_rel, std::memory_order_acquire)) {
      return true;
    }
  }
}

inline void ScheduledIo::wake(Ready ready) {
  Waker reader;
  Waker writer;
  lock_wakers();
  if (ready.intersects(read_mask)) {
    reader = reader_;
    reader_ = Waker{};
  }
  if (ready.intersects(write_mask)) {
    writer = writer_;
    writer_ = Waker{};
  }
  unlock_wakers();
  // Outside the lock: a waker may poll this very source again.
  reader.wake();
  writer.wake();
}

inline ReadyEvent ScheduledIo::poll_ready(Direction direction, const Waker& waker) {
  const ReadyEvent before = readiness(direction);
  if (before.is_ready()) return before;
  lock_wakers();
  waker_for(direction) = waker;
  unlock_wakers();
  return readiness(direction);
}

inline void ScheduledIo::clear_readiness(const ReadyEvent& event) {
  const uint64_t clearable = (event.ready.without(Ready::final_states)).bits();
  uint64_t current = state_.load(std::memory_order_acquire);
  for (;;) {
    if (tick_of(current, event.direction) != event.tick) return;  // a newer event: keep its readiness
    const uint64_t next = current & ~clearable;
    if (next == current) return;
    if (state_.compare_exchange_weak(current, next, std::memory_order_acq_rel, std::memory_order_acquire)) return;
  }
}

}  // namespace emio
