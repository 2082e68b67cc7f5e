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

}  // namespace emio
