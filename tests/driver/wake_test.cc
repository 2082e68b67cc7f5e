// SPDX-License-Identifier: MIT
// Handle::wake from any thread: never lost, and at most one system call per turn.
#if !defined(_WIN32)
#include <pthread.h>
#include <signal.h>
#endif

#include <atomic>
#include <thread>
#include <vector>

#include "emio/driver/driver.h"
#include "support/check.h"
#include "support/driver_fixture.h"

namespace {
constexpr int generous_wait_ms = 20000;  // only reached if a wake is lost; qemu is slow, never this slow
}

TEST_GROUP(Wake) {
  emio::Driver driver;
  void setup() override { CHECK_OK(driver.init(emio_test::driver_config())); }
};

TEST(Wake, WakeBeforeTurnMakesTheTurnReturnAtOnce) {
  driver.handle().wake();
  CHECK_EQUAL(0u, REQUIRE_VALUE(driver.turn(generous_wait_ms)));
  CHECK_EQUAL(1u, driver.stats().wakes_received);
}

TEST(Wake, WakeFromAnotherThreadEndsASleepingTurn) {
  std::atomic<bool> turn_returned{false};
  std::thread waker([&] {
    // Keep waking until the turn returns: only the first wake before the turn ends can be needed.
    while (!turn_returned.load()) {
      driver.handle().wake();
      std::this_thread::yield();
    }
  });
  CHECK_EQUAL(0u, REQUIRE_VALUE(driver.turn(emio::wait_forever)));
  turn_returned.store(true);
  waker.join();
  CHECK(driver.stats().wakes_received >= 1);
}

TEST(Wake, ManyWakesBetweenTwoTurnsMakeOneSystemCall) {
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) driver.handle().wake();
    });
  }
  for (std::thread& thread : threads) thread.join();
  CHECK_EQUAL(1u, driver.stats().wake_signals.load());
  CHECK_EQUAL(0u, REQUIRE_VALUE(driver.turn(generous_wait_ms)));
  CHECK_EQUAL(1u, driver.stats().wakes_received);
  // The wake was consumed: the next turn sleeps its full (zero) wait and sees nothing.
  CHECK_EQUAL(0u, REQUIRE_VALUE(driver.turn(0)));
  CHECK_EQUAL(1u, driver.stats().wakes_received);
}

TEST(Wake, WakesFromManyThreadsDuringTurnsAreNeverLost) {
  // Each thread posts a request and wakes; the driver acknowledges what it has seen after each turn.
  // A lost wake would leave the driver asleep while a request waits: its turn would time out.
  constexpr int thread_count = 4;
  constexpr int requests_per_thread = 500;
  std::atomic<int> posted{0};
  std::atomic<int> acknowledged{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < thread_count; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < requests_per_thread; ++i) {
        const int mine = posted.fetch_add(1) + 1;
        driver.handle().wake();
        while (acknowledged.load() < mine) std::this_thread::yield();
      }
    });
  }
  int turns_without_wake = 0;
  while (acknowledged.load() < thread_count * requests_per_thread) {
    const uint64_t wakes_before = driver.stats().wakes_received;
    CHECK(driver.turn(generous_wait_ms).ok());
    if (driver.stats().wakes_received == wakes_before) ++turns_without_wake;
    acknowledged.store(posted.load());
  }
  for (std::thread& thread : threads) thread.join();
  CHECK_EQUAL(0, turns_without_wake);
  // Wakes coalesce: at most one system call per turn, and one more, since a thread's last wake may come
  // after the driver's last turn (that turn acknowledged the request posted just before it; seen once
  // under qemu-arm: one signal more than turns).
  CHECK(driver.stats().wake_signals.load() <= driver.stats().turns + 1);
}

// Windows has no signal that interrupts a wait: GetQueuedCompletionStatusEx never says EINTR (its
// alertable form, which APCs end, is not used).
#if !defined(_WIN32)
namespace {
std::atomic<int> interrupts{0};
void count_interrupt(int) { interrupts.fetch_add(1); }
}  // namespace

TEST(Wake, SignalInterruptingATurnCountsAsNoEvents) {
  struct sigaction action {};
  action.sa_handler = count_interrupt;
  action.sa_flags = 0;  // no SA_RESTART: epoll_wait fails with EINTR (it never restarts anyway)
  sigemptyset(&action.sa_mask);
  struct sigaction previous {};
  CHECK_EQUAL(0, ::sigaction(SIGUSR1, &action, &previous));
  interrupts.store(0);
  const pthread_t driver_thread = ::pthread_self();
  std::atomic<bool> turn_returned{false};
  std::thread interrupter([&] {
    while (!turn_returned.load()) {
      ::pthread_kill(driver_thread, SIGUSR1);
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  });
  emio::Result<uint32_t> result = driver.turn(emio::wait_forever);
  turn_returned.store(true);
  interrupter.join();
  CHECK_EQUAL(0, ::sigaction(SIGUSR1, &previous, nullptr));
  CHECK_EQUAL(0u, REQUIRE_VALUE(result));
  CHECK(interrupts.load() >= 1);
  CHECK_EQUAL(0u, driver.stats().wakes_received);
}
#endif
