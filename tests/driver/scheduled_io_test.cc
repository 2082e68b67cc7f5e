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

// Rounds of events from a driver thread, each followed by a check once the tasks settled.
struct Rounds {
  std::atomic<uint32_t> finished{0};  // the last round whose events were all merged (and their wakers called)
  std::atomic<bool> stop{false};
};

// A task that drains `direction` the way an operation does after EAGAIN: look, "EAGAIN", then clear what it
// saw and park in one step. Once a round's events are all merged and it is parked without a wake, its look
// must have seen the round's last event: an event after the look either moved the tick (and clear_and_poll
// did not park) or found the waiter (and woke it).
struct DrainingTask {
  DrainingTask(emio::ScheduledIo& drained, Direction drained_direction) : io(drained), direction(drained_direction) {}
  emio::ScheduledIo& io;
  Direction direction;
  emio_test::CountingWaker woken;
  std::atomic<uint32_t> settled{0};
  uint32_t lost_wakes = 0;

  void run(const Rounds& rounds) {
    while (!rounds.stop.load()) {
      const int calls_before = woken.calls.load();
      const ReadyEvent seen = io.readiness(direction);
      if (io.clear_and_poll(seen, woken.waker()).is_ready()) continue;
      while (woken.calls.load() == calls_before && !rounds.stop.load()) {
        const uint32_t finished = rounds.finished.load();
        if (finished == settled.load() || woken.calls.load() != calls_before) {
          std::this_thread::yield();
          continue;
        }
        if (io.readiness(direction).tick != seen.tick) lost_wakes += 1;
        settled.store(finished);
      }
    }
  }
};

}  // namespace

TEST(ScheduledIo, TasksClearingAfterEagainWhileEventsWrapBothTicksLoseNoWakeAndKeepTheNeighbouringFields) {
  // Short bursts for either direction and for both, each racing with the tasks' look-clear-park; in all, both
  // ticks wrap several times.
  constexpr uint32_t round_count = 3000;
  constexpr Ready kinds[] = {Ready::readable, Ready::writable, Ready::readable | Ready::writable};
  Rounds rounds;
  DrainingTask reading{io, Direction::read};
  DrainingTask writing{io, Direction::write};
  std::thread read_task([&] { reading.run(rounds); });
  std::thread write_task([&] { writing.run(rounds); });
  uint32_t merged = 0;
  bool settled_in_time = true;
  for (uint32_t round = 1; round <= round_count && settled_in_time; ++round) {
    for (uint32_t burst = 0; burst < 1 + round % 3; ++burst) CHECK(io.dispatch(generation, kinds[merged++ % 3]));
    rounds.finished.store(round);
    // Bounded, so that a task stuck outside its park fails the test instead of hanging it.
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while ((reading.settled.load() != round || writing.settled.load() != round) &&
           (settled_in_time = std::chrono::steady_clock::now() < give_up)) {
      std::this_thread::yield();
    }
  }
  rounds.stop.store(true);
  read_task.join();
  write_task.join();
  CHECK(settled_in_time);
  CHECK(merged > 4 * (uint32_t{1} << emio::ScheduledIo::tick_bits));
  UNSIGNED_LONGS_EQUAL(0, reading.lost_wakes);
  UNSIGNED_LONGS_EQUAL(0, writing.lost_wakes);
  UNSIGNED_LONGS_EQUAL(generation, io.generation());
  CHECK_FALSE(io.readiness(Direction::read).shut_down);
  constexpr uint64_t guard_bit = uint64_t{1} << (emio::ScheduledIo::read_tick_shift + emio::ScheduledIo::tick_bits);
  UNSIGNED_LONGLONGS_EQUAL(0, io.snapshot() & guard_bit);
}
