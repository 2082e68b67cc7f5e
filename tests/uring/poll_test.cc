// SPDX-License-Identifier: MIT
// io_uring readiness beyond the shared suite: the path of 5.10 kernels (single-shot polls, waits bounded
// by a timeout submission), and completion-queue overflow, after which multishot polls end and must be
// armed again without losing an event.
#include <sys/socket.h>
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

// The driver fuzz finding of 2026-12-04: sources added and removed on the driver thread before any turn
// left their POLL_ADDs in the SQ with a cancel behind each. The kernel read the fd numbers only when it
// took them, by which time the fds were closed and their numbers reused by newer sources' files: every
// stale poll fired on those, and their completions, dropped as stale, filled the turns' event buffers
// ahead of the newer sources' events (50 such rounds delayed an event past 21 turns).
TEST_GROUP(UringUnpublishedPoll) {
  emio::Driver driver;
  void setup() override {
    SKIP_WITHOUT_URING();
    CHECK_OK(driver.init(emio_test::uring_config(emio::BackendChoice::uring, 16, 16)));
    CHECK(driver.turn(0).ok());  // binds the driver thread: its adds go straight into the SQ
  }
};

TEST(UringUnpublishedPoll, ARemovedPollThatNeverReachedTheKernelFiresOnNoReusedFd) {
  for (int round = 0; round < 80; ++round) {
    emio_test::FdPair pair = emio_test::make_socketpair(SOCK_STREAM);
    Registration first =
        REQUIRE_VALUE(driver.handle().add_source(pair.first.get(), Interest::readable | Interest::writable));
    Registration second =
        REQUIRE_VALUE(driver.handle().add_source(pair.second.get(), Interest::readable | Interest::writable));
    CHECK_OK(driver.handle().deregister(first));
    CHECK_OK(driver.handle().deregister(second));
  }  // the fds close: the next pair gets the same numbers
  emio_test::FdPair pair = emio_test::make_socketpair(SOCK_STREAM);
  CHECK_EQUAL(1, emio_test::write_bytes(pair.first.get(), 1));
  Registration reader = REQUIRE_VALUE(driver.handle().add_source(pair.second.get(), Interest::readable));
  CHECK(driver.turn(100).ok());
  CHECK(reader.io->readiness(Direction::read).ready.is_readable());  // at the first turn, as epoll does
  CHECK_EQUAL(0u, driver.stats().stale_events_dropped);              // no removed poll saw the reused numbers
}

#endif
