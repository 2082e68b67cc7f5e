// SPDX-License-Identifier: MIT
// Four threads add, deregister, wait, wake and clear wakers against a driver turning on the main thread,
// for a bounded time. Checked after every step: no waker runs after the call that removed it returned,
// no wake is lost (a parked waiter whose peer wrote is woken within a deadline), no event reaches a
// registration that was removed. Meant to run under TSan and ASan as well (the presets do).

#include <atomic>
#include <chrono>
#include <thread>

#include "emio/driver/driver.h"
#include "emio/port/clock.h"
#include "support/check.h"
#include "support/driver_fixture.h"
#include "support/sockets.h"

#include <CppUTest/TestHarness.h>

namespace {

constexpr int worker_count = 4;
constexpr int rounds_per_worker = 150;
constexpr uint64_t run_budget_ms = 6000;          // the whole test stops by itself after this
constexpr uint64_t lost_wake_deadline_ms = 2000;  // a wake later than this counts as lost

// One waiter's life: it is retired when the call that removed its waker returns; a call after that is a
// violation. Never reused within a run, so a late call cannot hide behind a new life.
struct Waiter {
  std::atomic<bool> retired{false};
  std::atomic<int> calls{0};
  std::atomic<int>* violations = nullptr;
  static void on_wake(void* context) {
    auto& self = *static_cast<Waiter*>(context);
    if (self.retired.load(std::memory_order_acquire)) self.violations->fetch_add(1);
    self.calls.fetch_add(1, std::memory_order_release);
  }
  emio::Waker waker() { return emio::Waker{on_wake, this}; }
};

struct Worker {
  Waiter waiters[rounds_per_worker * 2];
  int lost_wakes = 0;
  int failures = 0;
};

bool waited_for(const Waiter& waiter, uint64_t deadline_ms) {
  while (waiter.calls.load(std::memory_order_acquire) == 0) {
    if (emio::monotonic_now_ms() > deadline_ms) return false;
    std::this_thread::yield();
  }
  return true;
}

void run_worker(emio::Handle handle, Worker& worker, uint64_t stop_at_ms, int seed) {
  emio_test::FdPair pair = emio_test::make_socketpair(SOCK_STREAM);
  for (int round = 0; round < rounds_per_worker && emio::monotonic_now_ms() < stop_at_ms; ++round) {
    auto added = handle.add_source(pair.first.get(), emio::Interest::readable);
    if (!added.ok()) {
      worker.failures += 1;
      continue;
    }
    emio::ScheduledIo& io = *added.value().io;
    Waiter& waiting = worker.waiters[2 * round];
    Waiter& cleared = worker.waiters[2 * round + 1];
    // A waker stored and cleared at once: it must never run after clear_waker returned.
    (void)emio_test::drain(pair.first.get());
    io.clear_readiness(io.readiness(emio::Direction::read));
    if (!io.poll_ready(emio::Direction::read, cleared.waker()).is_ready()) {
      io.clear_waker(emio::Direction::read);
    }
    cleared.retired.store(true, std::memory_order_release);
    // A waiter parked, then the peer writes: its waker must come (no lost wake).
    const emio::ReadyEvent seen = io.poll_ready(emio::Direction::read, waiting.waker());
    if ((round + seed) % 5 == 0) handle.wake();
    if (emio_test::write_bytes(pair.second.get(), 1) != 1) worker.failures += 1;
    if (!seen.is_ready() && !waited_for(waiting, emio::monotonic_now_ms() + lost_wake_deadline_ms)) {
      worker.lost_wakes += 1;
    }
    // Sometimes the waiter is re-parked and the registration removed under it: deregister must win.
    (void)emio_test::drain(pair.first.get());
    if ((round + seed) % 2 == 0) {
      io.clear_readiness(io.readiness(emio::Direction::read));
      (void)io.poll_ready(emio::Direction::read, waiting.waker());
      if (emio_test::write_bytes(pair.second.get(), 1) != 1) worker.failures += 1;
    }
    (void)handle.deregister(added.value());
    waiting.retired.store(true, std::memory_order_release);
  }
}

}  // namespace

TEST_GROUP(ConcurrencyStress) {
  emio::Driver driver;
  void setup() override { CHECK_OK(driver.init(emio_test::driver_config(64, 64))); }
};

TEST(ConcurrencyStress, FourThreadsChurningAgainstATurningDriverBreakNoInvariant) {
  std::atomic<int> violations{0};
  static Worker workers[worker_count];  // static: thousands of waiters would crowd the stack
  for (Worker& worker : workers) {
    worker.lost_wakes = worker.failures = 0;
    for (Waiter& waiter : worker.waiters) {
      waiter.retired.store(false);
      waiter.calls.store(0);
      waiter.violations = &violations;
    }
  }
  const uint64_t stop_at_ms = emio::monotonic_now_ms() + run_budget_ms;
  std::atomic<int> running{worker_count};
  std::thread threads[worker_count];
  for (int i = 0; i < worker_count; ++i) {
    threads[i] = std::thread([&, i] {
      run_worker(driver.handle(), workers[i], stop_at_ms, i);
      running.fetch_sub(1);
    });
  }
  while (running.load() > 0) CHECK(driver.turn(5).ok());
  for (std::thread& thread : threads) thread.join();

  CHECK_EQUAL(0, violations.load());
  for (const Worker& worker : workers) {
    CHECK_EQUAL(0, worker.lost_wakes);
    CHECK_EQUAL(0, worker.failures);
  }
  CHECK_EQUAL(0u, driver.live_registrations());
}
