// SPDX-License-Identifier: MIT
// Handle::add_source and deregister from another thread while the driver thread sleeps in turn(): on
// io_uring the submission queue is shared between threads (its own lock), and a poll armed from another
// thread must reach the kernel at once, as epoll_ctl does. Runs on every backend.
#include <atomic>
#include <thread>

#include "emio/driver/driver.h"
#include "support/check.h"
#include "support/driver_fixture.h"
#include "support/sockets.h"

namespace {
constexpr int generous_wait_ms = 20000;  // only reached if the other thread's registration is lost
}

TEST_GROUP(CrossThread) {
  emio::Driver driver;
  void setup() override { CHECK_OK(driver.init(emio_test::driver_config(8, 8))); }
};

TEST(CrossThread, SourceAddedByAnotherThreadWakesASleepingTurn) {
  auto pipe = emio_test::make_pipe();
  emio::Registration added{};
  std::thread registrar([&] {
    // Keep the window open until the driver thread is asleep, then register and make the pipe readable.
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    auto result = driver.handle().add_source(pipe.first.get(), emio::Interest::readable);
    if (result.ok()) added = result.value();
    (void)emio_test::write_bytes(pipe.second.get(), 1);
  });
  uint32_t events = 0;
  for (int turn = 0; turn < 10 && events == 0; ++turn) events = REQUIRE_VALUE(driver.turn(generous_wait_ms));
  registrar.join();
  CHECK_EQUAL(1u, events);
  CHECK(added.io != nullptr);
  CHECK(added.io->readiness(emio::Direction::read).ready.is_readable());
}

TEST(CrossThread, SourceRemovedByAnotherThreadReportsNothingMore) {
  auto pipe = emio_test::make_pipe();
  emio::Registration reader = REQUIRE_VALUE(driver.handle().add_source(pipe.first.get(), emio::Interest::readable));
  std::thread remover([&] { CHECK_OK(driver.handle().deregister(reader)); });
  remover.join();
  CHECK_EQUAL(1, emio_test::write_bytes(pipe.second.get(), 1));
  CHECK_EQUAL(0u, REQUIRE_VALUE(driver.turn(0)));
  CHECK_EQUAL(0u, driver.stats().events_dispatched);
}

TEST(CrossThread, ManyThreadsAddAndRemoveWhileTheDriverTurns) {
  constexpr int thread_count = 4;
  constexpr int rounds = 200;
  std::atomic<int> done_threads{0};
  std::atomic<int> failures{0};
  std::thread threads[thread_count];
  for (std::thread& thread : threads) {
    thread = std::thread([&] {
      auto pipe = emio_test::make_pipe();
      for (int round = 0; round < rounds; ++round) {
        auto added = driver.handle().add_source(pipe.first.get(), emio::Interest::readable);
        if (!added.ok() || driver.handle().deregister(added.value()).failed()) failures.fetch_add(1);
      }
      done_threads.fetch_add(1);
      driver.handle().wake();
    });
  }
  while (done_threads.load() < thread_count) CHECK(driver.turn(100).ok());
  for (std::thread& thread : threads) thread.join();
  CHECK_EQUAL(0, failures.load());
  CHECK_EQUAL(0u, driver.live_registrations());
}
