// SPDX-License-Identifier: MIT
#include "emio/runtime/buffer_pool.h"

#include <cassert>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <new>
#include <type_traits>
#include <utility>

namespace emio {

BufferPool::~BufferPool() {
  assert(waiters_.empty() && "no one waits for a buffer once its pool goes");
  delete[] free_;
  ::operator delete[](storage_, std::align_val_t{storage_alignment});
}

Error BufferPool::init(uint32_t count, uint32_t buffer_bytes) {
  if (initialised_) return Error::from_errno(EALREADY);
  if (count > max_count || (count > 0 && buffer_bytes == 0)) return Error::from_errno(EINVAL);
  // A 32-bit size_t (armhf) would wrap the product into a small allocation that the buffers overrun.
  if (count > 0 && count > SIZE_MAX / buffer_bytes) return Error::from_errno(EINVAL);
  initialised_ = true;
  if (count == 0) return Error{};
  // Untouched until a buffer is used. Cache-line aligned: glibc's malloc hands back 16 bytes past a line
  // (past a page, for a chunk it maps), so with 4 KiB buffers each 64-byte request spanned two lines, a
  // miss more where it is copied and where the kernel reads or writes it.
  storage_ = static_cast<std::byte*>(
      ::operator new[](size_t{count} * buffer_bytes, std::align_val_t{storage_alignment}, std::nothrow));
  free_ = new (std::nothrow) uint32_t[count];
  if (storage_ == nullptr || free_ == nullptr) return Error::no_storage;
  // Lent from index 0 up: a lightly used pool touches its first buffers only.
  for (uint32_t i = 0; i < count; ++i) free_[i] = count - 1 - i;
  count_ = count;
  free_count_ = count;
  buffer_bytes_ = buffer_bytes;
  return Error{};
}

std::byte* BufferPool::take_or_queue(BufferWaiter& waiter, Waker waker) {
  if (waiter.buffer != nullptr) return std::exchange(waiter.buffer, nullptr);
  waiter.waker = waker;
  if (!waiter.waiting()) waiters_.push_back(waiter.link);  // else its place in the queue stays
  return nullptr;
}

void BufferPool::hand_over(std::byte* buffer) {
  auto& waiter =
      *reinterpret_cast<BufferWaiter*>(waiters_.pop_front());  // NOLINT(cppcoreguidelines-pro-type-reinterpret-cast)
  waiter.buffer = buffer;
  waiter.waker.wake();
}

void BufferPool::leave_queue(BufferWaiter& waiter) {
  waiters_.remove(waiter.link);
  waiter.waker = {};
  if (waiter.buffer != nullptr) give_back(std::exchange(waiter.buffer, nullptr));
}

static_assert(std::is_standard_layout_v<BufferWaiter> && offsetof(BufferWaiter, link) == 0,
              "give_back recovers the waiter from its link");

}  // namespace emio
