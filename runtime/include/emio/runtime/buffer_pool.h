// SPDX-License-Identifier: MIT
// A fixed pool of equal buffers lent for the time a transfer needs one, so that memory does not grow with
// the number of idle streams: a read view's buffer on readiness (ReceivedBytes), a native stream's send
// buffer while its send is in flight (native_stream.h). One allocation at init; never touched there, so a
// buffer's pages count in RSS only once something was read or written into it.
//
// When every buffer is lent, takers wait in FIFO order. A buffer given back goes straight to the oldest
// waiter (handed over, then its waker is called): a waker that woke a task which then did not take the
// buffer would otherwise leave the others waiting with a buffer free. Executor thread only.
#pragma once

#include <cassert>
#include <cstddef>
#include <cstdint>

#include "emio/driver/waker.h"
#include "emio/port/error.h"
#include "emio/runtime/ready_queue.h"

namespace emio {

// One taker's place in a pool's queue, embedded in what waits (an awaitable, a stream's record); it must
// not move while it waits.
struct BufferWaiter {
  Runnable link;                // first member: the pool recovers the waiter from its queue entry
  Waker waker{};                // called once a buffer was handed over
  std::byte* buffer = nullptr;  // the buffer handed over, until take() collects it
  bool waiting() const { return link.queued; }
};

// A pool's size, as the configs give it.
struct BufferPoolOptions {
  uint32_t count = 0;
  uint32_t buffer_bytes = 4096;
};

class BufferPool {
 public:
  BufferPool() = default;
  BufferPool(const BufferPool&) = delete;
  BufferPool& operator=(const BufferPool&) = delete;
  ~BufferPool();

  // `count` buffers of `buffer_bytes` each, at most max_count (4 bytes of bookkeeping each). A count of 0
  // makes an empty pool whose takers are refused (take_or_wait's caller reports ENOBUFS). Errors:
  // EALREADY, EINVAL (too many, buffers of 0 bytes, or more bytes in all than a size_t counts), Error::no_storage.
  Error init(uint32_t count, uint32_t buffer_bytes);
  static constexpr uint32_t max_count = 1U << 20;
  // The first buffer starts a cache line; with a buffer_bytes that is a multiple of it, every buffer does.
  static constexpr size_t storage_alignment = 64;

  // A buffer: the one handed over to `waiter`, else a free one. Null when none is free: `waiter` then waits
  // (at the back of the queue, or where it was) and `waker` is called once one is handed over.
  // Inline where nobody waits (every read view on readiness takes one): the queue only when it must.
  std::byte* take_or_wait(BufferWaiter& waiter, Waker waker) {
    if (waiter.buffer != nullptr || waiter.waiting() || free_count_ == 0) return take_or_queue(waiter, waker);
    assert(waiters_.empty() && "a buffer given back goes to a waiter, never to the free stack, while one waits");
    free_count_ -= 1;
    return storage_ + size_t{free_[free_count_]} * buffer_bytes_;
  }
  // Lends a buffer to the oldest waiter, or frees it.
  void give_back(std::byte* buffer) {
    assert(buffer >= storage_ && buffer < storage_ + size_t{count_} * buffer_bytes_ && "a buffer of this pool");
    if (!waiters_.empty()) return hand_over(buffer);
    assert(free_count_ < count_ && "a buffer is given back once");
    free_[free_count_] = static_cast<uint32_t>((buffer - storage_) / buffer_bytes_);
    free_count_ += 1;
  }
  // `waiter` leaves the queue (a taker that went away); a buffer handed over to it meanwhile is given back.
  // Inline where it neither waits nor holds a handed-over buffer (a read view's every park and end).
  void stop_waiting(BufferWaiter& waiter) {
    if (waiter.waiting() || waiter.buffer != nullptr) leave_queue(waiter);
  }

  uint32_t count() const { return count_; }
  uint32_t free_count() const { return free_count_; }
  uint32_t waiting_count() const { return waiters_.size(); }
  uint32_t buffer_bytes() const { return buffer_bytes_; }

 private:
  std::byte* take_or_queue(BufferWaiter& waiter, Waker waker);
  void hand_over(std::byte* buffer);  // to the oldest waiter, whose waker is then called
  void leave_queue(BufferWaiter& waiter);

  std::byte* storage_ = nullptr;
  uint32_t* free_ = nullptr;  // a stack of the free buffers' indexes: the last given back is lent first
  ReadyQueue waiters_;
  uint32_t count_ = 0;
  uint32_t free_count_ = 0;
  uint32_t buffer_bytes_ = 0;
  bool initialised_ = false;
};

}  // namespace emio
