#include "emio/driver/scheduled_io.h"

#include <cassert>
#include <thread>

// The cold paths; the hot ones are inline in the header.
namespace emio {
namespace {

// The sources whose wakers this thread is calling, innermost last. A waker may clear or reset a source
// whose waker runs further out on this very thread (a completion that shuts the driver down, a callback
// that deregisters its own source): that call must not wait for itself. Nesting is shallow by design
// (dispatch -> waker -> Driver::shutdown -> waker is the deepest the driver makes); the limit is asserted.
constexpr int max_nested_wakes = 8;
thread_local const ScheduledIo* wakes_on_this_thread[max_nested_wakes];
thread_local int nested_wakes = 0;

bool wakes_on_this_thread_include(const ScheduledIo* io) {
  for (int depth = 0; depth < nested_wakes; ++depth) {
    if (wakes_on_this_thread[depth] == io) return true;
  }
  return false;
}

// The bits waited on are held for a few instructions, but the holder may be preempted (two cores, a
// low-priority task): spin briefly, then give the processor away.
void back_off(unsigned& spins) {
  constexpr unsigned spins_before_yield = 64;
  if (++spins >= spins_before_yield) std::this_thread::yield();
}

}  // namespace

uint64_t ScheduledIo::lock_wakers() {
  uint64_t current = state_.load(std::memory_order_relaxed);
  for (unsigned spins = 0;;) {
    if ((current & wakers_locked_bit) == 0 &&
        state_.compare_exchange_weak(current, current | wakers_locked_bit, std::memory_order_acquire,
                                     std::memory_order_relaxed)) {
      return current | wakers_locked_bit;
    }
    if ((current & wakers_locked_bit) != 0) {
      back_off(spins);
      current = state_.load(std::memory_order_relaxed);
    }
  }
}

// Takes the stored waker of `direction` if `generation` still owns the slot, setting `also` (the
// running bit) in the same step. The lock is held only while the two words are copied.
bool ScheduledIo::take_waker(uint32_t generation, Direction direction, uint64_t also, Waker& taken) {
  uint64_t current = state_.load(std::memory_order_acquire);
  for (unsigned spins = 0;;) {
    if (generation_of(current) != generation || (current & waiting_bit(direction)) == 0) return false;
    if ((current & wakers_locked_bit) != 0) {
      back_off(spins);
      current = state_.load(std::memory_order_acquire);
      continue;
    }
    const uint64_t claimed = (current & ~waiting_bit(direction)) | wakers_locked_bit | also;
    if (state_.compare_exchange_weak(current, claimed, std::memory_order_acq_rel, std::memory_order_acquire)) break;
  }
  taken = waker_for(direction);
  state_.fetch_and(~wakers_locked_bit, std::memory_order_release);
  return true;
}

void ScheduledIo::wake_waiters(uint32_t generation, uint64_t waiters) {
  // The outermost wake of this source on this thread marks it running until its wakers have returned,
  // so that clear_waker and deregister on other threads wait for them.
  const bool outermost = !wakes_on_this_thread_include(this);
  if (outermost) {
    assert(nested_wakes < max_nested_wakes && "wakers nest deeper than the driver ever does");
    if (nested_wakes < max_nested_wakes) wakes_on_this_thread[nested_wakes] = this;
    nested_wakes += 1;
  }
  bool marked_running = false;
  // One direction at a time, each taken just before its call: a reader's waker that clears or completes
  // the writer (a hang-up wakes both; the reader's callback shuts the stream down) is obeyed.
  for (const Direction direction : {Direction::read, Direction::write}) {
    if ((waiters & waiting_bit(direction)) == 0) continue;
    Waker taken;
    const uint64_t running = outermost && !marked_running ? waker_running_bit : 0;
    if (!take_waker(generation, direction, running, taken)) continue;
    marked_running = marked_running || running != 0;
    taken.wake();
  }
  if (outermost) nested_wakes -= 1;
  // Only this thread sets the bit for this source, so clearing it cannot end another thread's call.
  if (marked_running) state_.fetch_and(~waker_running_bit, std::memory_order_release);
}

void ScheduledIo::wait_until_no_waker_runs() const {
  if (wakes_on_this_thread_include(this)) return;  // the running waker is this thread's caller
  for (unsigned spins = 0; (state_.load(std::memory_order_acquire) & waker_running_bit) != 0;) back_off(spins);
}

// Clears the waiter bit of `direction`; a task that is replacing its waker holds the lock meanwhile.
void ScheduledIo::withdraw_waiter(Direction direction) {
  uint64_t current = state_.load(std::memory_order_acquire);
  for (unsigned spins = 0;;) {
    if ((current & waiting_bit(direction)) == 0) return;
    if ((current & wakers_locked_bit) != 0) {
      back_off(spins);
      current = state_.load(std::memory_order_acquire);
      continue;
    }
    if (state_.compare_exchange_weak(current, current & ~waiting_bit(direction), std::memory_order_acq_rel,
                                     std::memory_order_acquire)) {
      return;
    }
  }
}

void ScheduledIo::clear_waker(Direction direction) {
  withdraw_waiter(direction);
  // The driver may have taken the waker just before: its call ends before this returns.
  wait_until_no_waker_runs();
}

void ScheduledIo::reset(uint32_t generation, int fd, Interest interest, uint64_t file_identity) {
  uint64_t current = state_.load(std::memory_order_acquire);
  for (unsigned spins = 0;;) {
    if ((current & wakers_locked_bit) != 0) {
      back_off(spins);
      current = state_.load(std::memory_order_acquire);
      continue;
    }
    // The running bit belongs to the driver thread's call in progress, whoever owns the slot next.
    const uint64_t next = (uint64_t{generation} << generation_shift) | (current & waker_running_bit);
    if (state_.compare_exchange_weak(current, next, std::memory_order_acq_rel, std::memory_order_acquire)) break;
  }
  fd_ = fd;
  interest_ = interest;
  file_identity_ = file_identity;
}

void ScheduledIo::shutdown() {
  const uint64_t before = state_.fetch_or(shut_down_bit, std::memory_order_acq_rel);
  if (const uint64_t waiters = before & (reader_waiting_bit | writer_waiting_bit); waiters != 0) {
    wake_waiters(generation_of(before), waiters);
  }
}

}  // namespace emio
