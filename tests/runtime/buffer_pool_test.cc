// SPDX-License-Identifier: MIT
// BufferPool (buffer_pool.h): a fixed pool lends its buffers, the takers past them wait in FIFO order,
// and a buffer given back goes straight to the oldest waiter.
#include <cerrno>
#include <cstddef>
#include <cstdint>

#include "emio/runtime/buffer_pool.h"
#include "support/check.h"

namespace {

void count_wake(void* counter) { *static_cast<int*>(counter) += 1; }

}  // namespace

TEST_GROUP(BufferPool) {
  emio::BufferPool pool;
  int wakes[3] = {};
  emio::BufferWaiter waiters[3];
  emio::Waker waker(int index) { return {count_wake, &wakes[index]}; }
  void teardown() override {
    for (emio::BufferWaiter& waiter : waiters) pool.stop_waiting(waiter);  // none may wait once the pool goes
  }
};

TEST(BufferPool, LendsEachBufferOnceUntilGivenBack) {
  CHECK_OK(pool.init(2, 64));
  std::byte* first = pool.take_or_wait(waiters[0], waker(0));
  std::byte* second = pool.take_or_wait(waiters[1], waker(1));
  CHECK(first != nullptr && second != nullptr && first != second);
  CHECK_EQUAL(0u, pool.free_count());
  pool.give_back(first);
  pool.give_back(second);
  CHECK_EQUAL(2u, pool.free_count());
}

// A 64-byte request in a buffer that starts mid-line spans two cache lines: a miss more per copy. 256 KiB,
// past glibc's mmap threshold, where malloc's own chunk header put the start 16 bytes past a page.
TEST(BufferPool, EveryBufferOfALineMultipleSizeStartsACacheLine) {
  constexpr uint32_t count = 64;
  CHECK_OK(pool.init(count, 4096));
  for (uint32_t i = 0; i < count; ++i) {
    emio::BufferWaiter waiter;
    const std::byte* buffer = pool.take_or_wait(waiter, waker(0));
    CHECK(buffer != nullptr);
    CHECK_EQUAL(0u, reinterpret_cast<uintptr_t>(buffer) % emio::BufferPool::storage_alignment);
  }
}

TEST(BufferPool, ATakerFindingNoneFreeWaitsAndIsNotWokenYet) {
  CHECK_OK(pool.init(1, 64));
  CHECK(pool.take_or_wait(waiters[0], waker(0)) != nullptr);
  POINTERS_EQUAL(nullptr, pool.take_or_wait(waiters[1], waker(1)));
  CHECK(waiters[1].waiting());
  CHECK_EQUAL(1u, pool.waiting_count());
  CHECK_EQUAL(0, wakes[1]);
}

TEST(BufferPool, ABufferGivenBackIsHandedToTheOldestWaiterAndWakesIt) {
  CHECK_OK(pool.init(1, 64));
  std::byte* lent = pool.take_or_wait(waiters[0], waker(0));
  (void)pool.take_or_wait(waiters[1], waker(1));
  (void)pool.take_or_wait(waiters[2], waker(2));
  pool.give_back(lent);
  CHECK_EQUAL(1, wakes[1]);
  CHECK_EQUAL(0, wakes[2]);
  CHECK_EQUAL(0u, pool.free_count());  // handed over, not freed: no other taker can take it first
  POINTERS_EQUAL(lent, pool.take_or_wait(waiters[1], waker(1)));
}

TEST(BufferPool, AWaiterAskingAgainKeepsItsPlaceInTheQueue) {
  CHECK_OK(pool.init(1, 64));
  std::byte* lent = pool.take_or_wait(waiters[0], waker(0));
  (void)pool.take_or_wait(waiters[1], waker(1));
  (void)pool.take_or_wait(waiters[2], waker(2));
  POINTERS_EQUAL(nullptr, pool.take_or_wait(waiters[2], waker(2)));  // a spurious re-poll
  pool.give_back(lent);
  CHECK_EQUAL(1, wakes[1]);
  CHECK_EQUAL(0, wakes[2]);
}

TEST(BufferPool, AWaiterThatStopsWaitingPassesAHandedOverBufferToTheNext) {
  CHECK_OK(pool.init(1, 64));
  std::byte* lent = pool.take_or_wait(waiters[0], waker(0));
  (void)pool.take_or_wait(waiters[1], waker(1));
  (void)pool.take_or_wait(waiters[2], waker(2));
  pool.give_back(lent);           // handed to waiters[1]
  pool.stop_waiting(waiters[1]);  // which went away before it took it
  CHECK_EQUAL(1, wakes[2]);
  POINTERS_EQUAL(lent, pool.take_or_wait(waiters[2], waker(2)));
  CHECK_EQUAL(0u, pool.waiting_count());
}

TEST(BufferPool, AWaiterThatStopsWaitingLeavesTheQueue) {
  CHECK_OK(pool.init(1, 64));
  std::byte* lent = pool.take_or_wait(waiters[0], waker(0));
  (void)pool.take_or_wait(waiters[1], waker(1));
  pool.stop_waiting(waiters[1]);
  CHECK_FALSE(waiters[1].waiting());
  pool.give_back(lent);
  CHECK_EQUAL(0, wakes[1]);
  CHECK_EQUAL(1u, pool.free_count());
}

TEST(BufferPool, APoolOfNoBuffersLendsNone) {
  CHECK_OK(pool.init(0, 64));
  CHECK_EQUAL(0u, pool.count());
}

TEST(BufferPool, RefusesASecondInitBuffersOfNoBytesAndTooMany) {
  emio::BufferPool empty_buffers;
  CHECK_ERROR(emio::Error::from_errno(EINVAL), empty_buffers.init(1, 0));
  emio::BufferPool too_many;
  CHECK_ERROR(emio::Error::from_errno(EINVAL), too_many.init(emio::BufferPool::max_count + 1, 64));
  CHECK_OK(pool.init(1, 64));
  CHECK_ERROR(emio::Error::from_errno(EALREADY), pool.init(1, 64));
}

TEST(BufferPool, RefusesMoreBytesInAllThanASizeTCounts) {
  // 65,536 buffers of 64 KiB: 4 GiB, which wraps to 0 in a 32-bit size_t (armhf, the cross suite) and
  // would lend buffers outside a 0-byte allocation. A 64-bit size_t holds every count times every size.
  if (sizeof(size_t) > sizeof(uint32_t)) return;
  CHECK_ERROR(emio::Error::from_errno(EINVAL), pool.init(65536, 65536));
}
