// SPDX-License-Identifier: MIT
#include "emio/runtime/ready_queue.h"

namespace emio {

void ReadyQueue::push_back(Runnable& runnable) {
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

Runnable* ReadyQueue::pop_front() {
  Runnable* first = head_;
  if (first != nullptr) remove(*first);
  return first;
}

void ReadyQueue::remove(Runnable& runnable) {
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
