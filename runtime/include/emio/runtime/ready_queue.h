// SPDX-License-Identifier: MIT
// The executor's FIFO of things to run: an intrusive, doubly linked list of Runnable records that their
// owners embed (task slots, IoWatch). Push, pop and remove are O(1) and never allocate; a record is in
// the queue at most once, so waking an already queued task does nothing.
#pragma once

#include <cstdint>

namespace emio {

struct Runnable {
  void (*run)(Runnable& self) = nullptr;
  Runnable* previous = nullptr;
  Runnable* next = nullptr;
  bool queued = false;
};

class ReadyQueue {
 public:
  // Appends `runnable` unless it is already queued.
  void push_back(Runnable& runnable);
  // Takes the oldest record out, or returns nullptr when empty.
  Runnable* pop_front();
  // Takes `runnable` out wherever it is; does nothing if it is not queued. For owners that go away.
  void remove(Runnable& runnable);

  bool empty() const { return head_ == nullptr; }
  uint32_t size() const { return size_; }

 private:
  Runnable* head_ = nullptr;
  Runnable* tail_ = nullptr;
  uint32_t size_ = 0;
};

// Inline: every wake and every task run goes through these, and a call into another translation unit
// costs more than the few pointer moves they make (bench-peers' callgrind profile of emio-echo).
inline void ReadyQueue::push_back(Runnable& runnable) {
  if (runnable.queued) return;
  runnable.queued = true;
  runnable.next = nullptr;
  runnable.previous = tail_;
  if (tail_ != nullptr) {
    tail_->next = &runnable;
  } else {
    head_ = &runnable;
  }
  tail_ = &runnable;
  size_ += 1;
}

inline Runnable* ReadyQueue::pop_front() {
  Runnable* first = head_;
  if (first != nullptr) remove(*first);
  return first;
}

inline void ReadyQueue::remove(Runnable& runnable) {
  if (!runnable.queued) return;
  if (runnable.previous != nullptr) {
    runnable.previous->next = runnable.next;
  } else {
    head_ = runnable.next;
  }
  if (runnable.next != nullptr) {
    runnable.next->previous = runnable.previous;
  } else {
    tail_ = runnable.previous;
  }
  runnable.previous = nullptr;
  runnable.next = nullptr;
  runnable.queued = false;
  size_ -= 1;
}

}  // namespace emio
