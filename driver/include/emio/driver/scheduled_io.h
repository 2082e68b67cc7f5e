// SPDX-License-Identifier: MIT
// Per-source state shared by the driver (which sets readiness) and the tasks waiting on the source.
//
// Everything the driver and the tasks race on lives in one atomic 64-bit word:
//   bits  0-5   readiness (Ready bits)
//   bit   6     shut down
//   bit   7     a reader's waker is stored          bit 8   a writer's waker is stored
//   bit   9     a task is writing a waker field (held for a few instructions, never across a call)
//   bit  10     a waker of this source is running on the driver thread (taken, copied, being called)
//   bits 11-20  read tick: bumped by every event that concerns reading
//   bit  21     always clear: takes the read tick's carry when it wraps
//   bits 22-31  write tick: bumped by every event that concerns writing (its carry falls off bit 31)
//   bits 32-63  generation of the registration that owns the slot
// The generation in the word makes "is this event still for this registration?", "set readiness" and
// "take the waiter" one compare-and-swap, so an event whose token went stale never reaches the slot's next
// owner, and an event costs one CAS whether a waiter is stored or not. A waker field keeps its last waker
// after it was taken: a task that parks again with the same waker (the usual case) sets its waiter bit in
// one CAS and writes nothing. The field is written only while its waiter bit is clear and no waker runs
// (or from inside the running waker, whose copy is already made), so the driver's copy never races. The per-direction
// ticks let a task that saw EAGAIN clear readiness only if no event arrived since it looked; one shared
// tick livelocks (tokio-rs/tokio#8054).
//
// The waker contract: once clear_waker() or reset() returns, or poll_ready() returns a ready event, the
// waker stored before is never called again, on any thread. A waker already running on the driver thread
// is waited for (clear_waker returns after it did); on the driver thread itself, from inside a waker,
// nothing is waited for, since nothing else runs there. A Waker is a function and a raw context, so a
// call after its owner cleared it would be a use-after-free (it was, in IoWatch: docs/design.md).
#pragma once

#include <atomic>
#include <cassert>
#include <cstdint>

#include "emio/driver/interest.h"
#include "emio/driver/ready.h"
#include "emio/driver/waker.h"

namespace emio {

enum class Direction : uint8_t { read, write };

class ScheduledIo;

namespace scheduled_io_detail {
// A waker call in progress on this thread, linked to the one further out: a list on the driver's stack.
// A waker may clear, reset or re-arm a source whose waker runs further out on this very thread (a
// completion that shuts the driver down, a callback that deregisters its own source): that call must not
// wait for itself. On the stack, so no nesting depth has to be guessed. A turn links one frame for all its
// events and each waker call only names its source in it (one store), where a frame per event cost a
// thread-local load and store each way (bench/dispatch). Between two calls `io` still names the source
// called last: harmless, since that call has returned and its running bit is clear (the outermost call
// clears it; a nested call on the same source leaves it to the outer frame, which names that source too).
struct WakeFrame {
  const ScheduledIo* io;
  const WakeFrame* outer;
};
inline thread_local const WakeFrame* innermost_wake = nullptr;

// Links `frame` as this thread's innermost for its lifetime: a turn's, or one waker call's.
class LinkedWakeFrame {
 public:
  explicit LinkedWakeFrame(const ScheduledIo* io) : frame_{io, innermost_wake} { innermost_wake = &frame_; }
  ~LinkedWakeFrame() { innermost_wake = frame_.outer; }
  LinkedWakeFrame(const LinkedWakeFrame&) = delete;
  LinkedWakeFrame& operator=(const LinkedWakeFrame&) = delete;
  WakeFrame& frame() { return frame_; }

 private:
  WakeFrame frame_;
};

}  // namespace scheduled_io_detail

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
  static constexpr uint64_t shut_down_bit = uint64_t{1} << Ready::bit_count;
  static constexpr uint64_t reader_waiting_bit = shut_down_bit << 1;
  static constexpr uint64_t writer_waiting_bit = shut_down_bit << 2;
  static constexpr uint64_t wakers_locked_bit = shut_down_bit << 3;
  static constexpr uint64_t waker_running_bit = shut_down_bit << 4;
  static constexpr unsigned tick_bits = 10;
  static constexpr unsigned read_tick_shift = Ready::bit_count + 5;
  // One guard bit between the ticks, so that an event bumps both with one 32-bit add (merge_and_wake).
  static constexpr unsigned write_tick_shift = read_tick_shift + tick_bits + 1;
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
  // shutdown and waiters, and stamps the generation that events must carry from now on.
  // `file_identity` names the open file behind `fd` (port's file_identity), where the driver needs it.
  // Does not wait for a running waker (it runs under the registrations lock, which a waker may take):
  // Handle::deregister calls wait_until_no_waker_runs() after unlocking.
  void reset(uint32_t generation, int fd, Interest interest, uint64_t file_identity = 0);
  // Returns once no waker of this source runs on another thread (at once on the thread calling it).
  void wait_until_no_waker_runs() const;
  // The registration's fd number now names another registration's file (it was closed and reused):
  // forget it, so that removing this registration never touches the new owner's.
  void forget_fd() { fd_ = -1; }
  // Merges `ready` if `generation` still owns the slot, then calls the stored wakers of the directions
  // it concerns, one at a time and outside every lock. False when the event is stale: nothing changed.
  bool dispatch(uint32_t generation, Ready ready);
  // The same, from the driver's turn: `turn_frame` is linked already and names the source called.
  bool dispatch(uint32_t generation, Ready ready, scheduled_io_detail::WakeFrame& turn_frame);
  // Marks the source shut down and wakes both waiters; they see ReadyEvent::shut_down.
  void shutdown();

  // --- The task's side ---

  ReadyEvent readiness(Direction direction) const {
    return event_from(state_.load(std::memory_order_acquire), direction);
  }
  // The readiness of both directions as one word, for clear_readiness_seen: what an operation takes
  // before its system call when it clears only in the rarer case (EAGAIN, a drained direction). One load,
  // where readiness() also builds a ReadyEvent that a completed transfer never uses (bench-peers' profile).
  uint64_t snapshot() const { return state_.load(std::memory_order_acquire); }
  // clear_readiness() of what `snapshot` showed for `direction`.
  void clear_readiness_seen(uint64_t snapshot, Direction direction) {
    clear_readiness(event_from(snapshot, direction));
  }
  // If the direction is ready (or shut down), returns it and leaves no waker stored for it. Otherwise
  // stores `waker` (replacing one stored before) and publishes it in the same compare-and-swap that looks
  // at the readiness again, so an event racing with the store is seen either here or by the driver,
  // which then finds the waker. Never lost.
  ReadyEvent poll_ready(Direction direction, const Waker& waker);
  // After an operation hit EAGAIN: clears what `event` saw, unless a newer event for that direction
  // arrived meanwhile (its tick moved). Closed states stay.
  void clear_readiness(const ReadyEvent& event);
  // clear_readiness(seen) and poll_ready(seen.direction, waker) in one step: what a task does after an
  // operation said EAGAIN. One CAS when `waker` is the one stored last (the usual case).
  ReadyEvent clear_and_poll(const ReadyEvent& seen, const Waker& waker);
  // Forgets the stored waker of `direction` (a task that stops waiting, e.g. on a timeout), and returns
  // once it cannot be called any more: a call already running on another thread is waited for.
  void clear_waker(Direction direction);

  int fd() const { return fd_; }
  uint64_t file_identity() const { return file_identity_; }
  Interest interest() const { return interest_; }
  uint32_t generation() const {
    return static_cast<uint32_t>(state_.load(std::memory_order_acquire) >> generation_shift);
  }
  // True while a waker of `direction` is stored (for tests and assertions).
  bool has_waker(Direction direction) const {
    return (state_.load(std::memory_order_acquire) & waiting_bit(direction)) != 0;
  }

 private:
  static constexpr uint64_t readiness_mask = (uint64_t{1} << Ready::bit_count) - 1;
  static constexpr uint32_t tick_guard_bit = uint32_t{1} << (read_tick_shift + tick_bits);
  static constexpr uint64_t generation_mask = ~uint64_t{0} << generation_shift;

  // What an event with a given set of Ready bits does to the word, looked up instead of worked out per event:
  // the tick increments (one add bumps both) and the waiter bits it concerns.
  struct MergeStep {
    uint32_t tick_increments = 0;
    uint32_t waiters = 0;
  };
  struct MergeSteps {
    MergeStep of[Ready::all.bits() + 1];
  };
  static constexpr MergeSteps make_merge_steps() {
    MergeSteps steps{};
    for (unsigned bits = 0; bits <= Ready::all.bits(); ++bits) {
      const Ready concerned = Ready::from_bits(bits);
      steps.of[bits].tick_increments = (concerned.intersects(read_mask) ? uint32_t{1} << read_tick_shift : 0) |
                                       (concerned.intersects(write_mask) ? uint32_t{1} << write_tick_shift : 0);
      steps.of[bits].waiters = static_cast<uint32_t>(waiters_for(concerned));
    }
    return steps;
  }

  static constexpr unsigned tick_shift(Direction direction) {
    return direction == Direction::read ? read_tick_shift : write_tick_shift;
  }
  static constexpr uint16_t tick_of(uint64_t state, Direction direction) {
    return static_cast<uint16_t>((state >> tick_shift(direction)) & tick_mask);
  }
  static constexpr uint32_t generation_of(uint64_t state) { return static_cast<uint32_t>(state >> generation_shift); }
  static constexpr Ready mask_of(Direction direction) { return direction == Direction::read ? read_mask : write_mask; }
  static constexpr uint64_t waiting_bit(Direction direction) {
    return direction == Direction::read ? reader_waiting_bit : writer_waiting_bit;
  }
  // The waiter bits an event with `ready` concerns.
  static constexpr uint64_t waiters_for(Ready ready) {
    return (ready.intersects(read_mask) ? reader_waiting_bit : 0) |
           (ready.intersects(write_mask) ? writer_waiting_bit : 0);
  }
  static constexpr ReadyEvent event_from(uint64_t state, Direction direction) {
    ReadyEvent event;
    event.ready = Ready::from_bits(static_cast<unsigned>(state & readiness_mask)) & mask_of(direction);
    event.tick = tick_of(state, direction);
    event.direction = direction;
    event.shut_down = (state & shut_down_bit) != 0;
    return event;
  }

  // What a task that parked sees: nothing ready. Its tick does not matter (there is nothing to clear), so it
  // is not read out of the word: the caller's is_ready() then folds away (bench/dispatch).
  static constexpr ReadyEvent parked_event(Direction direction) {
    ReadyEvent event;
    event.direction = direction;
    return event;
  }
  bool merge_and_wake(uint32_t generation, uint64_t bits, Ready concerned, scheduled_io_detail::WakeFrame* frame);
  template <Direction direction>
  ReadyEvent clear_and_poll_in(const ReadyEvent& seen, const Waker& waker);
  // Whether `state` makes `direction` ready (or shut down): ReadyEvent::is_ready without building one.
  static constexpr bool is_ready_in(uint64_t state, Direction direction) {
    return (state & (uint64_t{mask_of(direction).bits()} | shut_down_bit)) != 0;
  }
  // Calls the waker the dispatch CAS took (inline below: every event with a waiter goes through it), with
  // `frame` (linked) naming this source.
  void wake_claimed(uint32_t generation, uint64_t claimed, uint64_t before, Ready concerned,
                    scheduled_io_detail::WakeFrame& frame);
  bool take_writer(uint32_t generation);
  // Cold paths (scheduled_io.cc).
  ReadyEvent store_and_poll(Direction direction, const Waker& waker);
  bool is_stored(Direction direction, const Waker& waker);

  Waker& waker_for(Direction direction) { return direction == Direction::read ? reader_ : writer_; }

  std::atomic<uint64_t> state_{0};
  // Each keeps the last waker stored in it. Written by a task holding wakers_locked_bit while its waiter
  // bit is clear and no waker runs (or from inside the running waker); copied by the driver right after the
  // CAS that took its waiter bit and set the running bit. Plain fields, ordered by the state word.
  Waker reader_;
  Waker writer_;
  uint64_t file_identity_ = 0;
  int32_t fd_ = -1;
  Interest interest_;
};

static_assert(ScheduledIo::write_tick_shift + ScheduledIo::tick_bits == ScheduledIo::generation_shift,
              "the write tick must end at bit 31, where merge_and_wake's 32-bit add drops its carry");
static_assert(ScheduledIo::reader_waiting_bit < ScheduledIo::writer_waiting_bit,
              "merge_and_wake claims the lowest waiter bit first: the reader's");
static_assert(ScheduledIo::waker_running_bit < (uint64_t{1} << ScheduledIo::read_tick_shift),
              "the waiter bits must not overlap the ticks");
static_assert(std::atomic<uint64_t>::is_always_lock_free, "the state word must be lock-free on every target");
// Aim of the design note: all per-registration state in one 64-byte cache line on 64-bit targets.
static_assert(sizeof(void*) != 8 || sizeof(ScheduledIo) <= 56, "ScheduledIo grew: arena slots exceed 64 bytes");

// The hot path, inline: every event and every wait goes through these, and a call into another
// translation unit per step costs more than the steps themselves (bench/dispatch).

// Takes the writer's waiter bit if `generation` still owns the slot; the running bit is already set.
inline bool ScheduledIo::take_writer(uint32_t generation) {
  uint64_t current = state_.load(std::memory_order_acquire);
  for (;;) {
    if (generation_of(current) != generation || (current & writer_waiting_bit) == 0) return false;
    if (state_.compare_exchange_weak(current, current & ~writer_waiting_bit, std::memory_order_acq_rel,
                                     std::memory_order_acquire)) {
      return true;
    }
  }
}

inline void ScheduledIo::wake_claimed(uint32_t generation, uint64_t claimed, uint64_t before, Ready concerned,
                                      scheduled_io_detail::WakeFrame& frame) {
  // Only the driver thread sets the running bit: set before the claim means this thread is already inside
  // a waker of this source (shut down from a completion), and the outer call clears it.
  const bool outermost = (before & waker_running_bit) == 0;
  frame.io = this;
  // Copied right after the claim: no task writes a field while the running bit is set (store_and_poll).
  const Waker first = waker_for(claimed == reader_waiting_bit ? Direction::read : Direction::write);
  first.wake();
  // One direction at a time, the second taken only after the first one's call: a reader's waker that
  // clears or completes the writer (a hang-up wakes both; the reader's callback shuts the stream down)
  // is obeyed.
  if (claimed == reader_waiting_bit && concerned.intersects(write_mask) && take_writer(generation)) {
    const Waker second = writer_;
    second.wake();
  }
  if (outermost) state_.fetch_and(~waker_running_bit, std::memory_order_release);
}

inline bool ScheduledIo::merge_and_wake(uint32_t generation, uint64_t bits, Ready concerned,
                                        scheduled_io_detail::WakeFrame* frame) {
  static constexpr MergeSteps steps = make_merge_steps();
  const MergeStep step = steps.of[concerned.bits()];
  uint64_t current = state_.load(std::memory_order_acquire);
  uint64_t next = 0;
  uint64_t claimed = 0;
  do {
    if (generation_of(current) != generation) return false;
    // Both ticks in one add on the low half: the guard bit takes the read tick's carry (and is cleared
    // again), the write tick's falls off the top of the 32 bits.
    const uint32_t low = (static_cast<uint32_t>(current) + step.tick_increments) & ~tick_guard_bit;
    next = (current & generation_mask) | low | bits;
    // The reader first, the lower of the two bits; a second waiter is taken after the first one's call
    // (wake_claimed).
    const uint64_t waiters = current & step.waiters;
    claimed = waiters & (~waiters + 1);
    // `next` kept the claimed bit from `current`: flipping it clears it.
    if (claimed != 0) next = (next ^ claimed) | waker_running_bit;
  } while (!state_.compare_exchange_weak(current, next, std::memory_order_acq_rel, std::memory_order_acquire));
  // Nobody waits on what the event concerns: that was all (the common case under load).
  if (claimed == 0) return true;
  if (frame != nullptr) {
    wake_claimed(generation, claimed, current, concerned, *frame);
  } else {
    scheduled_io_detail::LinkedWakeFrame linked(this);
    wake_claimed(generation, claimed, current, concerned, linked.frame());
  }
  return true;
}

inline bool ScheduledIo::dispatch(uint32_t generation, Ready ready) {
  return merge_and_wake(generation, ready.bits(), ready, nullptr);
}

inline bool ScheduledIo::dispatch(uint32_t generation, Ready ready, scheduled_io_detail::WakeFrame& turn_frame) {
  return merge_and_wake(generation, ready.bits(), ready, &turn_frame);
}

inline bool ScheduledIo::is_stored(Direction direction, const Waker& waker) {
  const Waker& stored = waker_for(direction);
  return stored.function == waker.function && stored.context == waker.context;
}

inline ReadyEvent ScheduledIo::poll_ready(Direction direction, const Waker& waker) {
  uint64_t current = state_.load(std::memory_order_acquire);
  if (is_ready_in(current, direction)) {
    // A waker stored by an earlier poll must not outlive this answer: its owner stops waiting now, and may
    // free the waker's context once this returns, so one the driver already took must have returned too.
    if ((current & (waiting_bit(direction) | waker_running_bit)) != 0) clear_waker(direction);
    return event_from(current, direction);
  }
  if (!is_stored(direction, waker)) return store_and_poll(direction, waker);
  // The field already holds this waker: publish it, in the same CAS that looks at the readiness again.
  uint64_t next = 0;
  do {
    next = is_ready_in(current, direction) ? current & ~waiting_bit(direction) : current | waiting_bit(direction);
  } while (next != current &&
           !state_.compare_exchange_weak(current, next, std::memory_order_acq_rel, std::memory_order_acquire));
  if (!is_ready_in(next, direction)) return parked_event(direction);
  // Ready after all (an event, or a shutdown from inside the running waker, landed before the CAS): as
  // above, the taken waker must have returned before its owner may let go of it.
  if ((current & waker_running_bit) != 0) wait_until_no_waker_runs();
  return event_from(next, direction);
}

template <Direction direction>
inline ReadyEvent ScheduledIo::clear_and_poll_in(const ReadyEvent& seen, const Waker& waker) {
  if (!is_stored(direction, waker)) {
    clear_readiness(seen);
    return poll_ready(direction, waker);
  }
  const uint64_t clearable = (seen.ready.without(Ready::final_states)).bits();
  uint64_t current = state_.load(std::memory_order_acquire);
  uint64_t next = 0;
  do {
    // A newer event (the tick moved) keeps its readiness, and then the task is not parked.
    next = tick_of(current, direction) == seen.tick ? current & ~clearable : current;
    next = is_ready_in(next, direction) ? next & ~waiting_bit(direction) : next | waiting_bit(direction);
  } while (next != current &&
           !state_.compare_exchange_weak(current, next, std::memory_order_acq_rel, std::memory_order_acquire));
  if (!is_ready_in(next, direction)) return parked_event(direction);
  // Ready: as in poll_ready, a waker the driver took before must have returned.
  if ((current & waker_running_bit) != 0) wait_until_no_waker_runs();
  return event_from(next, direction);
}

inline ReadyEvent ScheduledIo::clear_and_poll(const ReadyEvent& seen, const Waker& waker) {
  // One branch here, so that each direction's masks and shifts are constants below.
  return seen.direction == Direction::read ? clear_and_poll_in<Direction::read>(seen, waker)
                                           : clear_and_poll_in<Direction::write>(seen, waker);
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
