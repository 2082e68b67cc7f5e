// SPDX-License-Identifier: MIT
#include "emio/runtime/timer.h"

#include <cassert>
#include <cerrno>
#include <climits>
#include <new>
#include <utility>

#include "emio/port/clock.h"
#include "emio/runtime/errors.h"

namespace emio {

Timer::Timer(Timer&& other) noexcept
    : callback_(other.callback_), context_(other.context_), period_ms_(other.period_ms_) {
  assert(!other.armed() && "an armed timer cannot move: the heap points at it");
}

Timer::~Timer() { (void)cancel(); }

bool Timer::cancel() { return queue_ != nullptr && queue_->cancel(*this); }

TimerQueue::~TimerQueue() {
  for (uint32_t i = 0; i < size_; ++i) heap_[i]->queue_ = nullptr;
  delete[] owned_;
}

Error TimerQueue::init(uint32_t capacity) {
  if (!heap_.empty()) return Error::from_errno(EALREADY);
  if (capacity == 0) return Error::no_storage;
  owned_ = new (std::nothrow) Timer*[capacity];
  if (owned_ == nullptr) return Error::no_storage;
  heap_ = std::span<Timer*>(owned_, capacity);
  return Error{};
}

Error TimerQueue::init(std::span<Timer*> storage) {
  if (!heap_.empty()) return Error::from_errno(EALREADY);
  if (storage.empty()) return Error::no_storage;
  heap_ = storage;
  return Error{};
}

Error TimerQueue::start_once(Timer& timer, uint32_t delay_ms, TimerCallback callback, void* context) {
  return start_at(timer, monotonic_now_ms() + delay_ms, 0, callback, context);
}

Error TimerQueue::start_periodic(Timer& timer, uint32_t period_ms, TimerCallback callback, void* context) {
  if (period_ms == 0) return Error::from_errno(EINVAL);
  return start_at(timer, monotonic_now_ms() + period_ms, period_ms, callback, context);
}

Error TimerQueue::start_at(Timer& timer, uint64_t deadline_ms, uint32_t period_ms, TimerCallback callback,
                           void* context) {
  if (callback == nullptr) return Error::from_errno(EINVAL);
  (void)timer.cancel();  // restarting: out of its old place (maybe in another queue) first
  if (size_ == capacity()) return capacity_full;
  timer.callback_ = callback;
  timer.context_ = context;
  timer.deadline_ms_ = deadline_ms;
  timer.period_ms_ = period_ms;
  timer.lateness_ms_ = 0;
  timer.fire_count_ = 0;
  insert(timer);
  return Error{};
}

bool TimerQueue::cancel(Timer& timer) {
  if (timer.queue_ != this) return false;
  remove_at(timer.heap_index_);
  return true;
}

int TimerQueue::next_timeout_ms(uint64_t now_ms) const {
  if (size_ == 0) return -1;
  const uint64_t deadline = heap_[0]->deadline_ms_;
  if (deadline <= now_ms) return 0;
  const uint64_t wait = deadline - now_ms;
  return wait > INT_MAX ? INT_MAX : static_cast<int>(wait);
}

uint32_t TimerQueue::fire_due(uint64_t now_ms) {
  // Only timers started before this call: one that a callback (re)starts with a deadline already due
  // waits for the next call, so a zero-delay restart cannot keep this loop busy forever.
  const uint64_t started_before = next_sequence_;
  uint32_t fired = 0;
  while (size_ > 0 && heap_[0]->deadline_ms_ <= now_ms && heap_[0]->sequence_ < started_before) {
    Timer& timer = *heap_[0];
    remove_at(0);
    timer.lateness_ms_ = now_ms - timer.deadline_ms_;
    timer.fire_count_ += 1;
    if (timer.period_ms_ != 0) {
      // Skip the periods a long turn swallowed: fire once now, keep the phase.
      const uint64_t missed = (now_ms - timer.deadline_ms_) / timer.period_ms_;
      timer.deadline_ms_ += (missed + 1) * timer.period_ms_;
      insert(timer);
    }
    fired += 1;
    timer.callback_(timer, timer.context_);
  }
  return fired;
}

void TimerQueue::insert(Timer& timer) {
  assert(size_ < capacity());
  timer.queue_ = this;
  timer.sequence_ = next_sequence_++;
  size_ += 1;
  place(timer, size_ - 1);
  sift_up(size_ - 1);
}

void TimerQueue::remove_at(uint32_t index) {
  Timer& removed = *heap_[index];
  removed.queue_ = nullptr;
  size_ -= 1;
  if (index == size_) return;
  place(*heap_[size_], index);
  sift_down(index);
  sift_up(index);
}

bool TimerQueue::earlier(const Timer& first, const Timer& second) {
  if (first.deadline_ms_ != second.deadline_ms_) return first.deadline_ms_ < second.deadline_ms_;
  return first.sequence_ < second.sequence_;
}

void TimerQueue::place(Timer& timer, uint32_t index) {
  heap_[index] = &timer;
  timer.heap_index_ = index;
}

void TimerQueue::sift_up(uint32_t index) {
  Timer& moving = *heap_[index];
  while (index > 0) {
    const uint32_t parent = (index - 1) / 2;
    if (!earlier(moving, *heap_[parent])) break;
    place(*heap_[parent], index);
    index = parent;
  }
  place(moving, index);
}

void TimerQueue::sift_down(uint32_t index) {
  Timer& moving = *heap_[index];
  for (;;) {
    const uint32_t left = 2 * index + 1;
    if (left >= size_) break;
    const uint32_t right = left + 1;
    const uint32_t child = (right < size_ && earlier(*heap_[right], *heap_[left])) ? right : left;
    if (!earlier(*heap_[child], moving)) break;
    place(*heap_[child], index);
    index = child;
  }
  place(moving, index);
}

}  // namespace emio
