// SPDX-License-Identifier: MIT
// The generic awaitables: sleep, yield, readiness, and with_timeout around another awaitable.
#include "emio/runtime/runtime.h"
#include "runtime/runtime_fixture.h"
#include "support/check.h"
#include "support/sockets.h"

using emio::Error;
using emio::Result;
using emio::Task;

namespace {

Task<> sleep_then_flag(uint32_t duration_ms, Error& slept, bool& done) {
  slept = co_await emio::sleep_ms(duration_ms);
  done = true;
}

Task<> read_with_timeout(emio::PollFd& source, uint32_t timeout_ms, Error& outcome, size_t& got) {
  std::byte buffer[8];
  Result<size_t> read = co_await emio::with_timeout(timeout_ms, source.read(buffer));
  outcome = read.ok() ? Error{} : read.error();
  got = read.ok() ? read.value() : 0;
}

Task<> await_readiness(emio::Registration registration, emio::ReadyEvent& seen, Error& outcome) {
  Result<emio::ReadyEvent> event = co_await emio::ready(registration, emio::Direction::read);
  outcome = event.ok() ? Error{} : event.error();
  if (event.ok()) seen = event.value();
}

// Awaits an IoOp whose attempt only counts how often it was made and reports would_block until told.
emio::Task<> count_attempts(emio::Registration registration, int& attempts, bool& succeed) {
  Result<size_t> outcome = co_await emio::make_io_op<Result<size_t>>(registration, emio::Direction::read, [&] {
    attempts += 1;
    return succeed ? Result<size_t>(size_t{1}) : Result<size_t>(emio::would_block);
  });
  (void)outcome;
}

}  // namespace

TEST_GROUP_BASE(Awaitables, emio_test::PipeReaderGroup){};

TEST(Awaitables, SleepResumesOnceItsTimerFired) {
  Error slept = Error::shut_down;
  bool done = false;
  Result<emio::TaskId> task = executor.spawn(sleep_then_flag(5, slept, done));
  emio_test::run_to_completion(executor, task);
  CHECK(done);
  CHECK_OK(slept);
  CHECK(executor.stats().timers_fired >= 1);
}

TEST(Awaitables, SleepDoesNotResumeBeforeItsTimer) {
  Error slept;
  bool done = false;
  CHECK(executor.spawn(sleep_then_flag(600000, slept, done)).ok());
  for (int i = 0; i < 3; ++i) CHECK_OK(executor.run_once(0));
  CHECK_FALSE(done);
  CHECK_EQUAL(1u, executor.timers().size());
}

TEST(Awaitables, SleepWithoutAFreeTimerReportsCapacityFull) {
  emio::Timer fillers[32];
  for (emio::Timer& filler : fillers) {
    CHECK_OK(executor.timers().start_once(
        filler, 600000, [](emio::Timer&, void*) {}, nullptr));
  }
  Error slept;
  bool done = false;
  Result<emio::TaskId> task = executor.spawn(sleep_then_flag(1, slept, done));
  CHECK_OK(executor.run_once(0));
  CHECK(executor.is_done(REQUIRE_VALUE(task)));
  CHECK_ERROR(emio::capacity_full, slept);
}

TEST(Awaitables, ReadThatNeverCompletesTimesOut) {
  Error outcome;
  size_t got = 99;
  Result<emio::TaskId> task = executor.spawn(read_with_timeout(source, 5, outcome, got));
  emio_test::run_to_completion(executor, task);
  CHECK_ERROR(emio::timed_out, outcome);
}

TEST(Awaitables, TimedOutReadLeavesNoTimerBehind) {
  Error outcome;
  size_t got = 0;
  Result<emio::TaskId> task = executor.spawn(read_with_timeout(source, 5, outcome, got));
  emio_test::run_to_completion(executor, task);
  CHECK_EQUAL(0u, executor.timers().size());
}

TEST(Awaitables, ReadThatCompletesInTimeReturnsItsBytesAndCancelsTheDeadline) {
  CHECK_EQUAL(4, emio_test::write_bytes(pipe.second.get(), 4));
  Error outcome = Error::shut_down;
  size_t got = 0;
  Result<emio::TaskId> task = executor.spawn(read_with_timeout(source, 600000, outcome, got));
  emio_test::run_to_completion(executor, task);
  CHECK_OK(outcome);
  CHECK_EQUAL(4u, got);
  CHECK_EQUAL(0u, executor.timers().size());
}

TEST(Awaitables, ReadinessAwaitReturnsTheEventSeen) {
  emio::ReadyEvent seen;
  Error outcome = Error::shut_down;
  Result<emio::TaskId> task = executor.spawn(await_readiness(source.registration(), seen, outcome));
  CHECK_OK(executor.run_once(0));
  CHECK_EQUAL(2, emio_test::write_bytes(pipe.second.get(), 2));
  emio_test::run_to_completion(executor, task);
  CHECK_OK(outcome);
  CHECK(seen.ready.is_readable());
}

TEST(Awaitables, ReadinessOfARemovedRegistrationIsStale) {
  const emio::Registration removed = source.registration();
  CHECK_OK(source.close());
  emio::ReadyEvent seen;
  Error outcome;
  Result<emio::TaskId> task = executor.spawn(await_readiness(removed, seen, outcome));
  emio_test::run_to_completion(executor, task);
  CHECK_ERROR(emio::Error::stale_token, outcome);
}

TEST(Awaitables, IoAwaitOnASourceNotReadyParksWithoutAnAttempt) {
  int attempts = 0;
  bool succeed = false;
  CHECK(executor.spawn(count_attempts(source.registration(), attempts, succeed)).ok());
  CHECK_OK(executor.run_once(0));
  CHECK_EQUAL(0, attempts);  // no system call just to hear EAGAIN
  succeed = true;
  CHECK_EQUAL(1, emio_test::write_bytes(pipe.second.get(), 1));
  for (int round = 0; round < 1000 && attempts == 0; ++round) CHECK_OK(executor.run_once(100));
  CHECK_EQUAL(1, attempts);
}
