// SPDX-License-Identifier: MIT
// ScheduledIo on its own: the readiness word and the wakers, without any OS.
#include "emio/driver/scheduled_io.h"

#include <atomic>
#include <chrono>
#include <thread>

#include "support/driver_fixture.h"

#include <CppUTest/TestHarness.h>

using emio::Direction;
using emio::Ready;
using emio::ReadyEvent;

TEST_GROUP(ScheduledIo) {
  emio::ScheduledIo io;
  emio_test::CountingWaker reader;
  emio_test::CountingWaker writer;
  static constexpr uint32_t generation = 7;
  void setup() override { io.reset(generation, 3, emio::Interest::readable | emio::Interest::writable); }
};

TEST(ScheduledIo, EventWithTheOwnersGenerationSetsReadiness) {
  CHECK(io.dispatch(generation, Ready::readable));
  CHECK(io.readiness(Direction::read).ready.is_readable());
  CHECK_FALSE(io.readiness(Direction::write).ready.is_writable());
}

TEST(ScheduledIo, EventWithAnotherGenerationIsDropped) {
  CHECK_FALSE(io.dispatch(generation - 1, Ready::readable));
  CHECK(io.readiness(Direction::read).ready.empty());
}

TEST(ScheduledIo, ClearRemovesWhatWasSeen) {
  CHECK(io.dispatch(generation, Ready::readable));
  io.clear_readiness(io.readiness(Direction::read));
  CHECK(io.readiness(Direction::read).ready.empty());
}

TEST(ScheduledIo, ClearKeepsReadinessWhenANewerEventArrived) {
  CHECK(io.dispatch(generation, Ready::readable));
  const ReadyEvent seen = io.readiness(Direction::read);
  CHECK(io.dispatch(generation, Ready::readable));  // arrives while the task hits EAGAIN
  io.clear_readiness(seen);
  CHECK(io.readiness(Direction::read).ready.is_readable());
}

TEST(ScheduledIo, ClearFromASnapshotRemovesOnlyItsDirection) {
  CHECK(io.dispatch(generation, Ready::readable | Ready::writable));
  io.clear_readiness_seen(io.snapshot(), Direction::read);
  CHECK_FALSE(io.readiness(Direction::read).ready.is_readable());
  CHECK(io.readiness(Direction::write).ready.is_writable());
}

TEST(ScheduledIo, ClearFromASnapshotKeepsAnEventThatArrivedAfterIt) {
  CHECK(io.dispatch(generation, Ready::readable));
  const uint64_t seen = io.snapshot();              // taken before the system call
  CHECK(io.dispatch(generation, Ready::readable));  // arrives while the call hits EAGAIN
  io.clear_readiness_seen(seen, Direction::read);
  CHECK(io.readiness(Direction::read).ready.is_readable());
}

TEST(ScheduledIo, WriteEventDoesNotBlockClearingReadReadiness) {
  // With one shared tick this clear would never succeed while writes keep coming (tokio-rs/tokio#8054).
  CHECK(io.dispatch(generation, Ready::readable));
  const ReadyEvent seen = io.readiness(Direction::read);
  CHECK(io.dispatch(generation, Ready::writable));
  io.clear_readiness(seen);
  CHECK_FALSE(io.readiness(Direction::read).ready.is_readable());
  CHECK(io.readiness(Direction::write).ready.is_writable());
}

TEST(ScheduledIo, ReadTickWrapsWithoutMovingTheWriteTick) {
  // Both ticks are bumped by one add: the read tick's carry at each wrap must not reach the write tick.
  constexpr uint32_t tick_period = uint32_t{1} << emio::ScheduledIo::tick_bits;
  for (uint32_t i = 0; i < 2 * tick_period + 3; ++i) CHECK(io.dispatch(generation, Ready::readable));
  UNSIGNED_LONGS_EQUAL(3, io.readiness(Direction::read).tick);
  UNSIGNED_LONGS_EQUAL(0, io.readiness(Direction::write).tick);
}

TEST(ScheduledIo, WriteTickWrapsWithoutChangingTheGeneration) {
  // The write tick ends below the generation: its carry at the wrap must not make the owner's events stale.
  constexpr uint32_t tick_period = uint32_t{1} << emio::ScheduledIo::tick_bits;
  for (uint32_t i = 0; i < 2 * tick_period + 3; ++i) CHECK(io.dispatch(generation, Ready::writable));
  UNSIGNED_LONGS_EQUAL(3, io.readiness(Direction::write).tick);
  UNSIGNED_LONGS_EQUAL(0, io.readiness(Direction::read).tick);
  UNSIGNED_LONGS_EQUAL(generation, io.generation());
}

TEST(ScheduledIo, ClosedStatesSurviveClear) {
  CHECK(io.dispatch(generation, Ready::readable | Ready::read_closed));
  io.clear_readiness(io.readiness(Direction::read));
  const ReadyEvent after = io.readiness(Direction::read);
  CHECK(after.ready.is_read_closed());
  CHECK_FALSE(after.ready.is_readable());
}

TEST(ScheduledIo, ErrorIsClearableBecauseUdpSocketsRecoverFromIt) {
  CHECK(io.dispatch(generation, Ready::error));
  io.clear_readiness(io.readiness(Direction::read));
  CHECK(io.readiness(Direction::read).ready.empty());
}

TEST(ScheduledIo, PollReadyWhenReadyReturnsAtOnceAndStoresNoWaker) {
  CHECK(io.dispatch(generation, Ready::readable));
  CHECK(io.poll_ready(Direction::read, reader.waker()).is_ready());
  CHECK(io.dispatch(generation, Ready::readable));
  CHECK_EQUAL(0, reader.calls.load());
}

TEST(ScheduledIo, StoredWakerRunsOnceOnItsDirection) {
  CHECK_FALSE(io.poll_ready(Direction::read, reader.waker()).is_ready());
  CHECK_FALSE(io.poll_ready(Direction::write, writer.waker()).is_ready());
  CHECK(io.dispatch(generation, Ready::readable));
  CHECK(io.dispatch(generation, Ready::readable));
  CHECK_EQUAL(1, reader.calls.load());
  CHECK_EQUAL(0, writer.calls.load());
}

TEST(ScheduledIo, ErrorWakesBothDirections) {
  CHECK_FALSE(io.poll_ready(Direction::read, reader.waker()).is_ready());
  CHECK_FALSE(io.poll_ready(Direction::write, writer.waker()).is_ready());
  CHECK(io.dispatch(generation, Ready::error));
  CHECK_EQUAL(1, reader.calls.load());
  CHECK_EQUAL(1, writer.calls.load());
}

TEST(ScheduledIo, ClearedWakerIsNotCalled) {
  CHECK_FALSE(io.poll_ready(Direction::read, reader.waker()).is_ready());
  io.clear_waker(Direction::read);
  CHECK(io.dispatch(generation, Ready::readable));
  CHECK_EQUAL(0, reader.calls.load());
}

TEST(ScheduledIo, ShutdownWakesBothWaitersAndIsSeenByBoth) {
  CHECK_FALSE(io.poll_ready(Direction::read, reader.waker()).is_ready());
  CHECK_FALSE(io.poll_ready(Direction::write, writer.waker()).is_ready());
  io.shutdown();
  CHECK_EQUAL(1, reader.calls.load());
  CHECK_EQUAL(1, writer.calls.load());
  CHECK(io.readiness(Direction::read).shut_down);
  CHECK(io.poll_ready(Direction::write, writer.waker()).is_ready());
}

TEST(ScheduledIo, ResetForANewOwnerForgetsTheOldOne) {
  CHECK(io.dispatch(generation, Ready::readable | Ready::read_closed));
  CHECK_FALSE(io.poll_ready(Direction::write, writer.waker()).is_ready());
  io.reset(generation + 1, 4, emio::Interest::readable);
  CHECK(io.readiness(Direction::read).ready.empty());
  CHECK(io.dispatch(generation + 1, Ready::all));
  CHECK_EQUAL(0, writer.calls.load());
  CHECK_FALSE(io.dispatch(generation, Ready::readable));
}

namespace {

// A task that drains `direction` the way an operation does after EAGAIN (look, "EAGAIN", clear and park in
// one step), against a driver thread merging events, until `events_done` and it is parked past them.
struct DrainingTask {
  DrainingTask(emio::ScheduledIo& drained, Direction drained_direction)
      : io(drained), direction(drained_direction) {}
  emio::ScheduledIo& io;
  Direction direction;
  emio_test::CountingWaker woken;
  ReadyEvent last_seen{};
  bool parked = false;
  bool lost_wake = false;

  void run(const std::atomic<bool>& events_done) {
    for (;;) {
      const int calls_before = woken.calls.load();
      last_seen = io.readiness(direction);
      parked = !io.clear_and_poll(last_seen, woken.waker()).is_ready();
      if (!parked) continue;
      // Parked: every event merged after the look must wake it (an event before the park moved the tick,
      // so clear_and_poll would not have parked). Bounded, so that a lost wake fails instead of hanging.
      const auto give_up = std::chrono::steady_clock::now() + std::chrono::milliseconds(200);
      while (woken.calls.load() == calls_before && std::chrono::steady_clock::now() < give_up) {
        std::this_thread::yield();
      }
      if (woken.calls.load() != calls_before) continue;
      if (!events_done.load()) continue;  // merely slow: the driver thread is still merging
      // No wake since the park and no event left to come: the look must have seen the last event.
      lost_wake = io.readiness(direction).tick != last_seen.tick;
      return;
    }
  }
};

}  // namespace

TEST(ScheduledIo, TasksClearingAfterEagainWhileEventsWrapBothTicksLoseNoWakeAndKeepTheNeighbouringFields) {
  // Four tick periods, in events for either direction and for both: both ticks wrap several times while
  // each direction's task looks, clears and parks, and an event may land between its look and its clear.
  constexpr uint32_t event_count = 4 * (uint32_t{1} << emio::ScheduledIo::tick_bits);
  constexpr Ready kinds[] = {Ready::readable, Ready::writable, Ready::readable | Ready::writable};
  std::atomic<bool> events_done{false};
  DrainingTask reading{io, Direction::read};
  DrainingTask writing{io, Direction::write};
  std::thread read_task([&] { reading.run(events_done); });
  std::thread write_task([&] { writing.run(events_done); });
  for (uint32_t i = 0; i < event_count; ++i) {
    CHECK(io.dispatch(generation, kinds[i % 3]));
    if (i % 64 == 0) std::this_thread::yield();  // let the tasks look between bursts
  }
  events_done.store(true);
  read_task.join();
  write_task.join();
  CHECK_FALSE(reading.lost_wake);
  CHECK_FALSE(writing.lost_wake);
  UNSIGNED_LONGS_EQUAL(generation, io.generation());
  CHECK_FALSE(io.readiness(Direction::read).shut_down);
  constexpr uint64_t guard_bit = uint64_t{1} << (emio::ScheduledIo::read_tick_shift + emio::ScheduledIo::tick_bits);
  UNSIGNED_LONGLONGS_EQUAL(0, io.snapshot() & guard_bit);
}
