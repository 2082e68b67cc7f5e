// SPDX-License-Identifier: MIT
// The waker contract (scheduled_io.h): once clear_waker, deregister or reset returns, the waker it removed
// is never called again, on any thread; wakers run one direction at a time, outside every lock.

#include <atomic>
#include <chrono>
#include <thread>

#include "emio/driver/driver.h"
#include "support/check.h"
#include "support/driver_fixture.h"
#include "support/sockets.h"

#include <CppUTest/TestHarness.h>

using emio::Direction;
using emio::Ready;
using emio::ScheduledIo;
using emio::Waker;

namespace {

constexpr uint32_t generation = 11;

// A waker that stays inside its call until released (or a bounded time passed), so that another thread
// can act while it runs.
struct SlowWaker {
  std::atomic<bool> entered{false};
  std::atomic<bool> returned{false};
  static void on_wake(void* context) {
    auto& self = *static_cast<SlowWaker*>(context);
    self.entered.store(true);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    self.returned.store(true);
  }
  Waker waker() { return Waker{on_wake, this}; }
  void wait_until_entered() const {
    while (!entered.load()) std::this_thread::yield();
  }
};

// Calls `action(context)` from inside a waker.
struct ActingWaker {
  void (*action)(ActingWaker&) = nullptr;
  ScheduledIo* io = nullptr;
  emio::Handle handle{};
  emio::Registration registration{};
  emio::Driver* driver = nullptr;
  int fd_to_add = -1;
  bool added = false;
  emio::Error status{};
  int calls = 0;
  static void on_wake(void* context) {
    auto& self = *static_cast<ActingWaker*>(context);
    self.calls += 1;
    self.action(self);
  }
  Waker waker() { return Waker{on_wake, this}; }
};

// Two sources' wakers: the first to run removes the other source, whose event is in the same batch, and gives
// its slot to a newcomer with a waiter parked. The other's event must then be dropped as stale.
struct SlotTakeover {
  struct Side {
    SlotTakeover* takeover;
    int index;
  };
  emio::Handle handle{};
  emio::Registration sources[2]{};
  int fd_to_add = -1;
  emio::Registration newcomer{};
  emio_test::CountingWaker newcomer_waker;
  int taken_from = -1;
  int calls = 0;
  Side sides[2]{{this, 0}, {this, 1}};

  static void on_wake(void* context) {
    const Side& side = *static_cast<Side*>(context);
    SlotTakeover& self = *side.takeover;
    self.calls += 1;
    if (self.taken_from >= 0) return;
    self.taken_from = 1 - side.index;
    (void)self.handle.deregister(self.sources[self.taken_from]);
    auto added = self.handle.add_source(self.fd_to_add, emio::Interest::readable);
    if (!added.ok()) return;
    self.newcomer = added.value();
    (void)self.newcomer.io->poll_ready(Direction::read, self.newcomer_waker.waker());
  }
  Waker waker(int index) { return Waker{on_wake, &sides[index]}; }
};

}  // namespace

TEST_GROUP(WakerContract) {
  ScheduledIo io;
  emio_test::CountingWaker reader;
  emio_test::CountingWaker writer;
  void setup() override { io.reset(generation, 3, emio::Interest::readable | emio::Interest::writable); }
};

TEST(WakerContract, ClearWakerOnAnotherThreadReturnsOnlyAfterTheRunningWakerReturned) {
  SlowWaker slow;
  CHECK_FALSE(io.poll_ready(Direction::read, slow.waker()).is_ready());
  std::thread driver_thread([&] { (void)io.dispatch(generation, Ready::readable); });
  slow.wait_until_entered();
  io.clear_waker(Direction::read);
  // Before the fix clear_waker returned at once, and the caller freed what the running waker still used.
  CHECK(slow.returned.load());
  driver_thread.join();
}

TEST(WakerContract, ResetOnAnotherThreadThenWaitingReturnsOnlyAfterTheRunningWakerReturned) {
  SlowWaker slow;
  CHECK_FALSE(io.poll_ready(Direction::write, slow.waker()).is_ready());
  std::thread driver_thread([&] { (void)io.dispatch(generation, Ready::writable); });
  slow.wait_until_entered();
  io.reset(generation + 1, -1, emio::Interest{});
  io.wait_until_no_waker_runs();
  CHECK(slow.returned.load());
  driver_thread.join();
}

TEST(WakerContract, PollReadyOnAnotherThreadThatFindsReadinessReturnsOnlyAfterATakenWakerReturned) {
  // The task sees the readiness the driver's event set and stops waiting: it may free the old waker's
  // context as soon as poll_ready returns, so the driver's call of that waker must be over by then.
  SlowWaker slow;
  CHECK_FALSE(io.poll_ready(Direction::read, slow.waker()).is_ready());
  std::thread driver_thread([&] { (void)io.dispatch(generation, Ready::readable); });
  slow.wait_until_entered();
  CHECK(io.poll_ready(Direction::read, reader.waker()).is_ready());
  CHECK(slow.returned.load());
  driver_thread.join();
}

TEST(WakerContract, ClearAndPollParksInOneStepAndIsWokenByTheNextEvent) {
  CHECK_FALSE(io.poll_ready(Direction::read, reader.waker()).is_ready());
  CHECK(io.dispatch(generation, Ready::readable));
  CHECK_EQUAL(1, reader.calls.load());
  const emio::ReadyEvent seen = io.readiness(Direction::read);
  CHECK_FALSE(io.clear_and_poll(seen, reader.waker()).is_ready());
  CHECK(io.has_waker(Direction::read));
  CHECK(io.dispatch(generation, Ready::readable));
  CHECK_EQUAL(2, reader.calls.load());
}

TEST(WakerContract, ClearAndPollKeepsANewerEventAndDoesNotPark) {
  CHECK(io.dispatch(generation, Ready::readable));
  const emio::ReadyEvent seen = io.readiness(Direction::read);
  CHECK(io.dispatch(generation, Ready::readable));  // arrives while the task drains
  CHECK(io.clear_and_poll(seen, reader.waker()).is_ready());
  CHECK_FALSE(io.has_waker(Direction::read));
}

TEST(WakerContract, WriterClearedByTheReadersWakerIsNotCalled) {
  // A hang-up concerns both directions; the reader's waker stops the writer (a stream shut down).
  ActingWaker clearing;
  clearing.io = &io;
  clearing.action = [](ActingWaker& self) { self.io->clear_waker(Direction::write); };
  CHECK_FALSE(io.poll_ready(Direction::read, clearing.waker()).is_ready());
  CHECK_FALSE(io.poll_ready(Direction::write, writer.waker()).is_ready());
  CHECK(io.dispatch(generation, Ready::read_closed | Ready::write_closed));
  CHECK_EQUAL(1, clearing.calls);
  CHECK_EQUAL(0, writer.calls.load());
}

TEST(WakerContract, WakerThatClearsItsOwnDirectionDoesNotWaitForItself) {
  ActingWaker clearing;
  clearing.io = &io;
  clearing.action = [](ActingWaker& self) { self.io->clear_waker(Direction::read); };
  CHECK_FALSE(io.poll_ready(Direction::read, clearing.waker()).is_ready());
  CHECK(io.dispatch(generation, Ready::readable));  // returns: no deadlock
  CHECK_EQUAL(1, clearing.calls);
}

TEST(WakerContract, WakerThatReArmsFromInsideItsCallIsCalledForTheNextEvent) {
  ActingWaker rearming;
  rearming.io = &io;
  rearming.action = [](ActingWaker& self) {
    self.io->clear_readiness(self.io->readiness(Direction::read));
    (void)self.io->poll_ready(Direction::read, self.waker());
  };
  CHECK_FALSE(io.poll_ready(Direction::read, rearming.waker()).is_ready());
  CHECK(io.dispatch(generation, Ready::readable));
  CHECK(io.has_waker(Direction::read));
  CHECK(io.dispatch(generation, Ready::readable));
  CHECK_EQUAL(2, rearming.calls);
}

TEST(WakerContract, PollReadyThatReturnsReadyLeavesNoWakerStored) {
  // An IoWatch that found its source ready, ran and was destroyed must leave nothing the driver calls.
  CHECK_FALSE(io.poll_ready(Direction::read, reader.waker()).is_ready());
  CHECK(io.dispatch(generation, Ready::readable));
  CHECK_EQUAL(1, reader.calls.load());
  emio_test::CountingWaker later;
  CHECK(io.poll_ready(Direction::read, later.waker()).is_ready());
  CHECK_FALSE(io.has_waker(Direction::read));
  io.shutdown();
  CHECK_EQUAL(0, later.calls.load());
}

TEST(WakerContract, EventForAReplacedOwnerNeverCallsTheNewOwnersWaker) {
  io.reset(generation + 1, 4, emio::Interest::readable);
  CHECK_FALSE(io.poll_ready(Direction::read, reader.waker()).is_ready());
  CHECK_FALSE(io.dispatch(generation, Ready::readable));
  CHECK_EQUAL(0, reader.calls.load());
}

// --- Through the driver, on every backend ---

TEST_GROUP(WakerContractDriver) {
  emio::Driver driver;
  void setup() override { CHECK_OK(driver.init(emio_test::driver_config(16, 16))); }
};

TEST(WakerContractDriver, DeregisterOnAnotherThreadReturnsOnlyAfterTheRunningWakerReturned) {
  emio_test::FdPair pair = emio_test::make_socketpair(SOCK_STREAM);
  auto added = driver.handle().add_source(pair.first.get(), emio::Interest::readable);
  CHECK(added.ok());
  const emio::Registration registration = added.value();
  SlowWaker slow;
  CHECK_FALSE(registration.io->poll_ready(Direction::read, slow.waker()).is_ready());
  CHECK_EQUAL(1, emio_test::write_bytes(pair.second.get(), 1));
  std::atomic<bool> stop{false};
  std::thread driver_thread([&] {
    while (!stop.load()) (void)driver.turn(10);
  });
  slow.wait_until_entered();
  (void)driver.handle().deregister(registration);
  CHECK(slow.returned.load());
  stop.store(true);
  driver_thread.join();
}

TEST(WakerContractDriver, WakerMayRemoveItsSourceAndAddAnother) {
  // design.md allows it: no waker runs while the driver holds its registrations lock.
  emio_test::FdPair pair = emio_test::make_socketpair(SOCK_STREAM);
  emio_test::FdPair other = emio_test::make_socketpair(SOCK_STREAM);
  auto added = driver.handle().add_source(pair.first.get(), emio::Interest::readable);
  CHECK(added.ok());
  ActingWaker churning;
  churning.handle = driver.handle();
  churning.registration = added.value();
  churning.fd_to_add = other.first.get();
  churning.action = [](ActingWaker& self) {
    self.status = self.handle.deregister(self.registration);
    auto again = self.handle.add_source(self.fd_to_add, emio::Interest::readable);
    self.added = again.ok();
  };
  CHECK_FALSE(added.value().io->poll_ready(Direction::read, churning.waker()).is_ready());
  CHECK_EQUAL(1, emio_test::write_bytes(pair.second.get(), 1));
  for (int turn = 0; turn < 50 && churning.calls == 0; ++turn) CHECK(driver.turn(100).ok());
  CHECK_EQUAL(1, churning.calls);
  CHECK_OK(churning.status);
  CHECK(churning.added);
}

TEST(WakerContractDriver, WakerThatShutsTheDriverDownFromInsideReturns) {
  emio_test::FdPair pair = emio_test::make_socketpair(SOCK_STREAM);
  auto first = driver.handle().add_source(pair.first.get(), emio::Interest::readable | emio::Interest::writable);
  CHECK(first.ok());
  ActingWaker stopping;
  stopping.driver = &driver;
  stopping.io = first.value().io;
  // Shutdown wakes every waiter, this source's writer included, and the reader clears that writer after.
  stopping.action = [](ActingWaker& self) {
    self.driver->shutdown();
    self.io->clear_waker(Direction::write);
  };
  emio_test::CountingWaker writer;
  CHECK_FALSE(first.value().io->poll_ready(Direction::read, stopping.waker()).is_ready());
  // A socketpair is writable at once; wait for that event first so the writer can park.
  for (int turn = 0; turn < 50 && !first.value().io->readiness(Direction::write).is_ready(); ++turn) {
    CHECK(driver.turn(100).ok());
  }
  first.value().io->clear_readiness(first.value().io->readiness(Direction::write));
  CHECK_FALSE(first.value().io->poll_ready(Direction::write, writer.waker()).is_ready());
  CHECK_EQUAL(1, emio_test::write_bytes(pair.second.get(), 1));
  for (int turn = 0; turn < 50 && stopping.calls == 0; ++turn) {
    if (!driver.turn(100).ok()) break;
  }
  CHECK_EQUAL(1, stopping.calls);
  CHECK_EQUAL(1, writer.calls.load());  // by the shutdown, once; never again after it was cleared
}

TEST(WakerContractDriver, WakerThatGivesAnotherSourcesSlotToANewcomerKeepsThatSourcesQueuedEventFromIt) {
  // The turn's wake frame names the source called; the event queued for the removed source, later in the same
  // batch, must reach neither its old waker nor the newcomer's, which parked in the very slot.
  emio_test::FdPair first = emio_test::make_socketpair(SOCK_STREAM);
  emio_test::FdPair second = emio_test::make_socketpair(SOCK_STREAM);
  emio_test::FdPair newcomer = emio_test::make_socketpair(SOCK_STREAM);
  SlotTakeover takeover;
  takeover.handle = driver.handle();
  takeover.fd_to_add = newcomer.first.get();
  const int fds[2] = {first.first.get(), second.first.get()};
  for (int i = 0; i < 2; ++i) {
    auto added = driver.handle().add_source(fds[i], emio::Interest::readable);
    CHECK(added.ok());
    takeover.sources[i] = added.value();
    CHECK_FALSE(takeover.sources[i].io->poll_ready(Direction::read, takeover.waker(i)).is_ready());
  }
  const uint64_t stale_before = driver.stats().stale_events_dropped;
  CHECK_EQUAL(1, emio_test::write_bytes(first.second.get(), 1));
  CHECK_EQUAL(1, emio_test::write_bytes(second.second.get(), 1));
  for (int turn = 0; turn < 50 && takeover.calls == 0; ++turn) CHECK(driver.turn(100).ok());
  // The removed source's event, had the batch been split (the sim backend may hold an event back a while).
  for (int turn = 0; turn < 20 && driver.stats().stale_events_dropped == stale_before; ++turn) {
    CHECK(driver.turn(10).ok());
  }
  CHECK_EQUAL(1, takeover.calls);
  CHECK(takeover.newcomer.io == takeover.sources[takeover.taken_from].io);  // the slot changed hands
  CHECK_EQUAL(1, driver.stats().stale_events_dropped - stale_before);
  CHECK_EQUAL(0, takeover.newcomer_waker.calls.load());
  CHECK(takeover.newcomer.io->has_waker(Direction::read));
  // The wakers' contexts live on this stack: nothing of theirs may be left for the driver's shutdown.
  CHECK_OK(driver.handle().deregister(takeover.newcomer));
  CHECK_OK(driver.handle().deregister(takeover.sources[1 - takeover.taken_from]));
}

namespace {

// A waker's context that says whether its owner still holds it; freed by the owner right after clear_waker, so
// that a late call is a use-after-free that ASan reports, besides the flag it trips.
struct OwnedContext {
  std::atomic<bool> cleared{false};
  static std::atomic<int> late_calls;
  static void on_wake(void* context) {
    // Gives the owner's clear_waker time to return while this call runs, as a busy driver thread would.
    std::this_thread::yield();
    if (static_cast<OwnedContext*>(context)->cleared.load()) late_calls.fetch_add(1);
  }
};
std::atomic<int> OwnedContext::late_calls{0};

}  // namespace

TEST(WakerContract, WakerClearedOnAnotherThreadWhileEventsArriveIsNeverCalledOnceTheClearReturned) {
  // The driver thread merges events for both directions without pause; each round the task parks a new waker
  // (the cold path: another context), clears it, and frees its context at once.
  constexpr int round_count = 20000;
  OwnedContext::late_calls.store(0);
  std::atomic<bool> stop{false};
  std::atomic<int> stale_merges{0};
  std::thread driver_thread([&] {
    constexpr Ready kinds[] = {Ready::readable, Ready::writable, Ready::error};
    for (uint32_t i = 0; !stop.load(); ++i) {
      if (!io.dispatch(generation, kinds[i % 3])) stale_merges.fetch_add(1);
    }
  });
  for (int round = 0; round < round_count; ++round) {
    const Direction direction = round % 2 == 0 ? Direction::read : Direction::write;
    auto* owned = new OwnedContext;
    (void)io.poll_ready(direction, Waker{OwnedContext::on_wake, owned});
    io.clear_readiness(io.readiness(direction));
    io.clear_waker(direction);
    owned->cleared.store(true);
    delete owned;
  }
  stop.store(true);
  driver_thread.join();
  CHECK_EQUAL(0, OwnedContext::late_calls.load());
  CHECK_EQUAL(0, stale_merges.load());
}
