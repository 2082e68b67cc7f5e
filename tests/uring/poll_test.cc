// SPDX-License-Identifier: MIT
// io_uring readiness beyond the shared suite: the path of 5.10 kernels (single-shot polls, waits bounded
// by a timeout submission), and completion-queue overflow, after which multishot polls end and must be
// armed again without losing an event.
#include <unistd.h>

#include "emio/driver/driver.h"
#include "support/check.h"
#include "support/sockets.h"
#include "uring/uring_support.h"

#if defined(EMIO_BACKEND_URING)

using emio::Direction;
using emio::Interest;
using emio::Registration;

namespace {

constexpr int generous_turns = 2000;  // each of at most 100 ms: only reached when an event is lost

// Turns until every registration is readable; returns how many are.
int turn_until_all_readable(emio::Driver& driver, Registration* registrations, int count) {
  int readable = 0;
  for (int turn = 0; turn < generous_turns; ++turn) {
    readable = 0;
    for (int i = 0; i < count; ++i) readable += registrations[i].io->readiness(Direction::read).ready.is_readable();
    if (readable == count) break;
    if (!driver.turn(100).ok()) break;
  }
  return readable;
}

}  // namespace

TEST_GROUP(UringSingleShot) {
  emio::Driver driver;
  void setup() override {
    SKIP_WITHOUT_URING();
    emio::DriverConfig config = emio_test::uring_config();
    config.uring.emulate_kernel_5_10 = true;
    CHECK_OK(driver.init(config));
  }
};

TEST(UringSingleShot, PollIsArmedAgainAfterItFires) {
  auto pipe = emio_test::make_pipe();
  Registration reader = REQUIRE_VALUE(driver.handle().add_source(pipe.first.get(), Interest::readable));
  for (int round = 0; round < 3; ++round) {
    CHECK_EQUAL(1, emio_test::write_bytes(pipe.second.get(), 1));
    CHECK_EQUAL(1, turn_until_all_readable(driver, &reader, 1));
    const emio::ReadyEvent seen = reader.io->readiness(Direction::read);
    CHECK_EQUAL(1u, emio_test::drain(pipe.first.get()));
    reader.io->clear_readiness(seen);
  }
}

TEST(UringSingleShot, EveryWakeEndsATurnThoughTheWakePollIsArmedAnew) {
  for (int round = 0; round < 3; ++round) {
    driver.handle().wake();
    CHECK_EQUAL(0u, REQUIRE_VALUE(driver.turn(20000)));
    CHECK_EQUAL(static_cast<uint64_t>(round + 1), driver.stats().wakes_received);
  }
}

TEST(UringSingleShot, ATurnWithNothingToReportEndsWhenItsWaitIsOver) {
  // Bounded by a timeout submission here, not by io_uring_enter's own timeout: a lost timeout would
  // leave this turn asleep for ever (ctest's TIMEOUT would say so).
  CHECK_EQUAL(0u, REQUIRE_VALUE(driver.turn(10)));
  CHECK_EQUAL(0u, REQUIRE_VALUE(driver.turn(10)));
}

TEST(UringSingleShot, TimeoutsLeftByEarlierTurnsAreNeverReportedAsEvents) {
  driver.handle().wake();
  CHECK_EQUAL(0u, REQUIRE_VALUE(driver.turn(20000)));  // ended by the wake; its timeout stays behind
  for (int turn = 0; turn < 3; ++turn) {
    emio::Result<uint32_t> events = driver.turn(10);
    CHECK_EQUAL(0u, REQUIRE_VALUE(events));
  }
  CHECK_EQUAL(1u, driver.stats().wakes_received);
  CHECK_EQUAL(0u, driver.stats().events_dispatched);
  CHECK_EQUAL(0u, driver.stats().stale_events_dropped);
}

TEST(UringSingleShot, DeregisteredSourceIsNotArmedAgain) {
  auto pipe = emio_test::make_pipe();
  Registration reader = REQUIRE_VALUE(driver.handle().add_source(pipe.first.get(), Interest::readable));
  CHECK_OK(driver.handle().deregister(reader));
  CHECK_EQUAL(1, emio_test::write_bytes(pipe.second.get(), 1));
  CHECK_EQUAL(0u, REQUIRE_VALUE(driver.turn(0)));
  CHECK_EQUAL(0u, driver.stats().events_dispatched);
}

TEST_GROUP(UringOverflow) {
  static constexpr int source_count = 64;
  emio::Driver driver;
  void setup() override {
    SKIP_WITHOUT_URING();
    emio::DriverConfig config = emio_test::uring_config(emio::BackendChoice::uring, source_count + 8, 8);
    config.uring.sq_entries = 2;  // a completion queue of 4 entries, for 64 sources
    config.operation_capacity = 4;
    CHECK_OK(driver.init(config));
  }
};

TEST(UringOverflow, FloodOfEventsOnATinyRingLosesNone) {
  emio_test::FdPair pipes[source_count];
  Registration readers[source_count];
  for (int i = 0; i < source_count; ++i) {
    pipes[i] = emio_test::make_pipe();
    readers[i] = REQUIRE_VALUE(driver.handle().add_source(pipes[i].first.get(), Interest::readable));
  }
  // Two floods: the first overflows the ring and ends the multishot polls; the second proves that
  // every one of them was armed again.
  for (int flood = 0; flood < 2; ++flood) {
    for (emio_test::FdPair& pipe : pipes) CHECK_EQUAL(1, emio_test::write_bytes(pipe.second.get(), 1));
    CHECK_EQUAL(source_count, turn_until_all_readable(driver, readers, source_count));
    for (int i = 0; i < source_count; ++i) {
      const emio::ReadyEvent seen = readers[i].io->readiness(Direction::read);
      CHECK_EQUAL(1u, emio_test::drain(pipes[i].first.get()));
      readers[i].io->clear_readiness(seen);
    }
  }
}

#endif
