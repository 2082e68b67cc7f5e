// SPDX-License-Identifier: MIT
// ScheduledIo on its own: the readiness word and the wakers, without any OS.
#include "emio/driver/scheduled_io.h"

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
