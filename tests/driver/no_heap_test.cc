// SPDX-License-Identifier: MIT
// The users' rule: after init, nothing allocates. Counted here, by the test, over a steady-state loop of
// registrations, events, wakers and cross-thread wakes.
#include <atomic>
#include <cstdlib>
#include <thread>

#include "emio/driver/driver.h"
#include "support/allocation_counter.h"
#include "support/check.h"
#include "support/driver_fixture.h"
#include "support/sockets.h"

using emio::Direction;
using emio::Interest;

TEST_GROUP(NoHeap) {
  emio::Driver driver;
  void setup() override { CHECK_OK(driver.init(emio_test::driver_config(32, 16))); }
};

TEST(NoHeap, SteadyStateLoopAllocatesNothing) {
  constexpr int pipe_count = 8;
  emio_test::FdPair pipes[pipe_count];
  for (emio_test::FdPair& pipe : pipes) pipe = emio_test::make_pipe();
  emio_test::CountingWaker task;
  std::atomic<bool> stop{false};
  std::atomic<bool> counting{false};
  std::thread waker = emio_test::started_thread([&] {  // started before counting: starting allocates
    while (!stop.load()) {
      if (counting.load()) driver.handle().wake();
      std::this_thread::yield();
    }
  });

  // The first pass warms up whatever the C library sets up lazily, then counting starts.
  uint64_t allocations_before = 0;
  for (int pass = 0; pass < 2; ++pass) {
    if (pass == 1) {
      counting.store(true);
      allocations_before = emio_test::allocations_so_far();
      emio_test::print_stack_of_next_allocation(true);  // a count above zero says where it came from
    }
    for (int round = 0; round < 200; ++round) {
      emio::Registration registrations[pipe_count];
      for (int i = 0; i < pipe_count; ++i) {
        registrations[i] = REQUIRE_VALUE(driver.handle().add_source(pipes[i].first.get(), Interest::readable));
        (void)registrations[i].io->poll_ready(Direction::read, task.waker());
        CHECK_EQUAL(1, emio_test::write_bytes(pipes[i].second.get(), 1));
      }
      CHECK(driver.turn(0).ok());
      for (int i = 0; i < pipe_count; ++i) {
        const emio::ReadyEvent seen = registrations[i].io->readiness(Direction::read);
        emio_test::drain(pipes[i].first.get());
        registrations[i].io->clear_readiness(seen);
        CHECK_OK(driver.handle().deregister(registrations[i]));
      }
    }
  }
  const uint64_t allocations = emio_test::allocations_so_far() - allocations_before;
  emio_test::print_stack_of_next_allocation(false);
  stop.store(true);
  waker.join();

  CHECK_EQUAL(0u, allocations);
  // libkqueue allocates a knote per filter added, in the process (a BSD kernel, in kernel memory):
  // those are counted apart (allocation_counter.h). They happen, so that count is not an empty one.
  if (emio_test::on_libkqueue) CHECK(emio_test::libkqueue_allocations_so_far() > 0);
  CHECK(task.calls.load() > 0);                   // the loop really dispatched events to wakers
  CHECK(driver.stats().wake_signals.load() > 0);  // and really woke the driver from another thread
}

TEST(NoHeap, InitOnCallerStorageAllocatesNothing) {
  static emio::DriverStorage<16, 8> storage;
  const uint64_t before = emio_test::allocations_so_far();
  {
    emio::Driver static_driver;
    CHECK_OK(static_driver.init(storage.config()));
    auto pipe = emio_test::make_pipe();
    auto added = static_driver.handle().add_source(pipe.first.get(), Interest::readable);
    CHECK(added.ok());
    CHECK(static_driver.turn(0).ok());
  }
  CHECK_EQUAL(0u, emio_test::allocations_so_far() - before);
}

TEST(NoHeap, CounterSeesAnAllocation) {
  // Guards the guard: a counter that never counts would pass every test above.
  // Called through a volatile pointer: an optimiser may remove a plain new/delete or malloc/free pair.
  void* (*volatile allocate)(size_t) = std::malloc;
  const uint64_t before = emio_test::allocations_so_far();
  void* probe = allocate(16);
  CHECK(probe != nullptr);
  std::free(probe);
  CHECK(emio_test::allocations_so_far() > before);
}
