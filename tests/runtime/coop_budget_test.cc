// SPDX-License-Identifier: MIT
// The executor's cooperative budget: a coroutine whose operations keep completing without waiting yields
// to the other ready tasks after `coop_budget` of them, keeps the output it had, and runs to the end
// untouched when the budget is off.
#include <unistd.h>

#include <string>

#include "emio/runtime/runtime.h"
#include "runtime/runtime_fixture.h"
#include "support/check.h"
#include "support/sockets.h"

using emio::Result;
using emio::Task;

namespace {

constexpr int awaits_in_a_row = 10;

// Awaits readiness of a source that stays readable, so that every await completes at once.
Task<> await_ready_source(emio::PollFd& source, int& completed) {
  for (int round = 0; round < awaits_in_a_row; ++round) {
    Result<emio::ReadyEvent> event = co_await source.readable();
    CHECK(event.ok());
    completed += 1;
  }
}

// Records how far the other task got when this one first ran.
Task<> record_progress(const int& completed, int& seen) {
  seen = completed;
  co_return;
}

Task<> read_into(emio::PollFd& source, std::span<std::byte> buffer, size_t& got) {
  Result<size_t> read = co_await source.read(buffer);
  got = REQUIRE_VALUE(read);
}

void write_text(int fd, std::string_view text) {
  CHECK_EQUAL(static_cast<long>(text.size()), emio_test::write_data(fd, text.data(), text.size()));
}

}  // namespace

TEST_GROUP(CoopBudget) {
  emio::Executor executor;
  emio_test::FdPair pipe;
  emio::PollFd source;

  void start(uint16_t budget) {
    emio::ExecutorConfig config = emio_test::executor_config(4);
    config.coop_budget = budget;
    CHECK_OK(executor.init(config));
    pipe = emio_test::make_pipe();
    source = REQUIRE_TAKE(emio::PollFd::adopt(executor.handle(), std::move(pipe.first), emio::Interest::readable));
    write_text(pipe.second.get(), "x");  // never read: the source stays readable
    CHECK_OK(executor.run_once(0));      // the event that tells the source it is readable
  }
};

TEST(CoopBudget, ATaskWhoseAwaitsCompleteAtOnceYieldsAfterTheBudget) {
  start(4);
  int completed = 0;
  int seen = -1;
  Result<emio::TaskId> busy = executor.spawn(await_ready_source(source, completed));
  CHECK(executor.spawn(record_progress(completed, seen)).ok());
  emio_test::run_to_completion(executor, busy);
  CHECK_EQUAL(3, seen);  // the fourth await used the budget up: its output waited for the next run
  CHECK_EQUAL(awaits_in_a_row, completed);
  CHECK_EQUAL(2, executor.stats().coop_yields);  // after the 4th and the 8th await
}

TEST(CoopBudget, ATaskRunsUntilItWaitsWhenTheBudgetIsOff) {
  start(0);
  int completed = 0;
  int seen = -1;
  Result<emio::TaskId> busy = executor.spawn(await_ready_source(source, completed));
  CHECK(executor.spawn(record_progress(completed, seen)).ok());
  emio_test::run_to_completion(executor, busy);
  CHECK_EQUAL(awaits_in_a_row, seen);
  CHECK_EQUAL(0, executor.stats().coop_yields);
}

TEST(CoopBudget, AnOperationThatUsedTheBudgetUpKeepsItsOutputAcrossTheYield) {
  start(1);  // every operation that completes at once yields
  write_text(pipe.second.get(), "yz");
  std::byte buffer[8];
  size_t got = 0;
  Result<emio::TaskId> reader = executor.spawn(read_into(source, buffer, got));
  emio_test::run_to_completion(executor, reader);
  CHECK_EQUAL(1, executor.stats().coop_yields);
  STRCMP_EQUAL("xyz", std::string(emio_test::text_of(std::span(buffer, got))).c_str());
}

TEST(CoopBudget, ATaskDestroyedWhileYieldedLeavesNothingBehind) {
  start(1);
  int completed = 0;
  CHECK(executor.spawn(await_ready_source(source, completed)).ok());
  CHECK_OK(executor.run_once(0));  // the first await completes and yields: the task is queued again
  CHECK_EQUAL(1, executor.stats().coop_yields);
  CHECK_EQUAL(1u, executor.live_tasks());
  CHECK_FALSE(source.io().has_waker(emio::Direction::read));  // nothing stored that could fire later
}
