// SPDX-License-Identifier: MIT
#include "emio/driver/scheduled_io.h"

#include <cassert>
#include <thread>

// The cold paths; the hot ones are inline in the header.
namespace emio {
namespace {

bool wakes_on_this_thread_include(const ScheduledIo* io) {
  for (const scheduled_io_detail::WakeFrame* frame = scheduled_io_detail::innermost_wake; frame != nullptr;
       frame = frame->outer) {
    if (frame->io == io) return true;
  }
  return false;
}

// The bits waited on are held for a few instructions, or for one waker's call, but the holder may be
// preempted (two cores, a low-priority task): spin briefly, then give the processor away.
void back_off(unsigned& spins) {
  constexpr unsigned spins_before_yield = 64;
  if (++spins >= spins_before_yield) std::this_thread::yield();
}

}  // namespace

ReadyEvent ScheduledIo::store_and_poll(Direction direction, const Waker& waker) {
  // Take the field: its waiter bit cleared and the lock set, while no waker runs (the driver copies a
  // field just after taking it), or from inside the running waker, whose copy is made.
  uint64_t current = state_.load(std::memory_order_acquire);
  uint64_t locked = 0;
  for (unsigned spins = 0;;) {
    const bool blocked = (current & wakers_locked_bit) != 0 ||
                         ((current & waker_running_bit) != 0 && !wakes_on_this_thread_include(this));
    if (!blocked) {
      locked = (current & ~waiting_bit(direction)) | wakers_locked_bit;
      if (state_.compare_exchange_weak(current, locked, std::memory_order_acquire, std::memory_order_acquire)) break;
      continue;
    }
    back_off(spins);
    current = state_.load(std::memory_order_acquire);
  }
  waker_for(direction) = waker;
  // Unlock and publish in one step, looking at the readiness once more: an event merged while the lock
  // was held is seen here, or the driver sees the waiter bit afterwards.
  current = locked;
  uint64_t next = 0;
  do {
    next = current & ~wakers_locked_bit;
    next = is_ready_in(current, direction) ? next & ~waiting_bit(direction) : next | waiting_bit(direction);
  } while (!state_.compare_exchange_weak(current, next, std::memory_order_acq_rel, std::memory_order_acquire));
  return event_from(next, direction);
}

void ScheduledIo::wait_until_no_waker_runs() const {
  if (wakes_on_this_thread_include(this)) return;  // the running waker is this thread's caller
  for (unsigned spins = 0; (state_.load(std::memory_order_acquire) & waker_running_bit) != 0;) back_off(spins);
}

void ScheduledIo::clear_waker(Direction direction) {
  state_.fetch_and(~waiting_bit(direction), std::memory_order_acq_rel);
  // The driver may have taken the waker just before: its call ends before this returns.
  wait_until_no_waker_runs();
}

void ScheduledIo::reset(uint32_t generation, int fd, Interest interest, uint64_t file_identity) {
  uint64_t current = state_.load(std::memory_order_acquire);
  // The running bit belongs to the driver thread's call in progress, whoever owns the slot next; the
  // lock to a task between its two steps. Neither is this reset's to clear.
  while (!state_.compare_exchange_weak(
      current, (uint64_t{generation} << generation_shift) | (current & (waker_running_bit | wakers_locked_bit)),
      std::memory_order_acq_rel, std::memory_order_acquire)) {
  }
  fd_ = fd;
  interest_ = interest;
  file_identity_ = file_identity;
}

void ScheduledIo::shutdown() { (void)merge_and_wake(generation(), shut_down_bit, Ready::all, nullptr); }

}  // namespace emio
