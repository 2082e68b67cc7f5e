// SPDX-License-Identifier: MIT
// Timers: caller-owned Timer records in a fixed-capacity intrusive binary heap (TimerQueue).
//
// Start is O(log n); cancel is O(log n) without a scan, because each Timer knows its heap index. The
// heap's one array is taken at init (or given by the caller), never later. Time is the monotonic clock
// in milliseconds (emio::monotonic_now_ms). The Executor owns one TimerQueue and turns the driver with
// its next deadline as the timeout; nothing here is thread-safe: use it from the executor's thread.
//
// Lateness: a turn that runs long makes timers late. A late timer fires once, and its callback reads
// Timer::lateness_ms(). A periodic timer that missed several periods also fires once (no burst of
// catch-up runs) and keeps its phase: its next deadline is the first multiple of the period after now.
#pragma once

#include <cstdint>
#include <span>

#include "emio/port/error.h"

namespace emio {

class Timer;
class TimerQueue;

// Called on the executor's thread when `timer` fires. The callback may cancel or restart any timer,
// this one included (a restarted one-shot timer fires again no earlier than the next fire_due call).
using TimerCallback = void (*)(Timer& timer, void* context);

class Timer {
 public:
  Timer() = default;
  // Only an unarmed timer may move (asserted): the heap points at armed ones.
  Timer(Timer&& other) noexcept;
  Timer(const Timer&) = delete;
  Timer& operator=(const Timer&) = delete;
  Timer& operator=(Timer&&) = delete;
  // Cancels the timer if it is armed, so the heap never points at a dead record.
  ~Timer();

  bool armed() const { return queue_ != nullptr; }
  // Monotonic milliseconds at which it fires next (or fired last, once disarmed).
  uint64_t deadline_ms() const { return deadline_ms_; }
  // 0 for a one-shot timer.
  uint32_t period_ms() const { return period_ms_; }
  // How late the current (or latest) firing was: now minus deadline when the callback ran.
  uint64_t lateness_ms() const { return lateness_ms_; }
  // How many times it has fired since it was last started.
  uint32_t fire_count() const { return fire_count_; }
  // Disarms it if armed (same as TimerQueue::cancel on its queue); returns whether it was armed.
  bool cancel();

 private:
  friend class TimerQueue;

  TimerQueue* queue_ = nullptr;  // non-null while armed
  TimerCallback callback_ = nullptr;
  void* context_ = nullptr;
  uint64_t deadline_ms_ = 0;
  uint64_t sequence_ = 0;  // start order: equal deadlines fire first-started first
  uint64_t lateness_ms_ = 0;
  uint32_t period_ms_ = 0;
  uint32_t heap_index_ = 0;
  uint32_t fire_count_ = 0;
};

static_assert(sizeof(void*) != 8 || sizeof(Timer) <= 64, "a Timer record should stay within a cache line");

class TimerQueue {
 public:
  TimerQueue() = default;
  TimerQueue(const TimerQueue&) = delete;
  TimerQueue& operator=(const TimerQueue&) = delete;
  // Disarms every timer still armed (their records stay valid and report armed() == false).
  ~TimerQueue();

  // Makes the one allocation this queue will ever do: room for `capacity` armed timers.
  // Errors: EALREADY if initialised, Error::no_storage for 0 or a failed allocation.
  Error init(uint32_t capacity);
  // Uses caller storage (a static array of `capacity` pointers): no heap at all.
  Error init(std::span<Timer*> storage);

  // Arms `timer` to fire once, `delay_ms` from now. Restarts it if it was armed.
  // Errors: capacity_full (ENOSPC) when `capacity` timers are already armed.
  Error start_once(Timer& timer, uint32_t delay_ms, TimerCallback callback, void* context);
  // Arms `timer` to fire every `period_ms` (> 0, else EINVAL), first `period_ms` from now.
  Error start_periodic(Timer& timer, uint32_t period_ms, TimerCallback callback, void* context);
  // The general form: first at `deadline_ms` (monotonic), then every `period_ms` if non-zero.
  Error start_at(Timer& timer, uint64_t deadline_ms, uint32_t period_ms, TimerCallback callback, void* context);
  // Disarms `timer` in O(log n); returns whether it was armed (false: nothing to do, or another queue's).
  bool cancel(Timer& timer);

  // Milliseconds from `now_ms` to the earliest deadline: 0 if one is due, -1 (wait forever) if none is
  // armed, capped at INT32_MAX. What the executor passes to Driver::turn.
  int next_timeout_ms(uint64_t now_ms) const;
  // Fires, in deadline order (equal deadlines in start order), the timers that were armed before this
  // call and are due at `now_ms`. Periodic timers are re-armed before their callback runs, so the
  // callback may cancel them. A callback that (re)starts a timer at a deadline already past puts it
  // first in line, and this call stops there: it and the due timers behind it fire on the next call,
  // which next_timeout_ms() (0 then) makes the executor's next iteration, without waiting. Returns how
  // many fired.
  uint32_t fire_due(uint64_t now_ms);

  uint32_t size() const { return size_; }
  uint32_t capacity() const { return static_cast<uint32_t>(heap_.size()); }

 private:
  void insert(Timer& timer);
  void remove_at(uint32_t index);
  void sift_up(uint32_t index);
  void sift_down(uint32_t index);
  void place(Timer& timer, uint32_t index);
  static bool earlier(const Timer& first, const Timer& second);

  std::span<Timer*> heap_{};
  Timer** owned_ = nullptr;
  uint32_t size_ = 0;
  uint64_t next_sequence_ = 0;
};

}  // namespace emio
