// SPDX-License-Identifier: MIT
// emio::Task coroutines: frames from the fixed pool (and an exhausted pool as an error, never a crash),
// FIFO resumption, nested tasks, wakers that queue instead of resuming inside the driver's dispatch.
#include <thread>

#include "emio/runtime/runtime.h"
#include "runtime/runtime_fixture.h"
#include "support/check.h"
#include "support/sockets.h"

using emio::Error;
using emio::Executor;
using emio::Result;
using emio::Task;

namespace {

struct Trace {
  char steps[32] = {};
  int count = 0;
  void add(char step) { steps[count++] = step; }
};

Task<> record_twice(Trace& trace, char first, char second) {
  trace.add(first);
  Error yielded = co_await emio::yield_now();
  CHECK_OK(yielded);
  trace.add(second);
}

Task<> set_when_run(bool& ran) {
  ran = true;
  co_return;
}

Task<> wait_for_readable(emio::PollFd& source, bool& resumed) {
  Result<emio::ReadyEvent> event = co_await source.readable();
  CHECK(event.ok());
  resumed = true;
}

Task<> read_one(emio::PollFd& source, size_t& got) {
  std::byte buffer[16];
  Result<size_t> read = co_await source.read(buffer);
  got = REQUIRE_VALUE(read);
}

Task<Result<int>> add_one(int value) { co_return value + 1; }

Task<> add_two(int& result) {
  Result<int> once = co_await add_one(0);
  Result<int> twice = co_await add_one(REQUIRE_VALUE(once));
  result = REQUIRE_VALUE(twice);
}

Task<> park_forever(emio::PollFd& source) {
  Result<emio::ReadyEvent> event = co_await source.readable();
  (void)event;
}

struct DestructionFlag {
  bool* destroyed;
  ~DestructionFlag() { *destroyed = true; }
};

Task<> park_with_local(emio::PollFd& source, bool& destroyed) {
  DestructionFlag flag{&destroyed};
  Result<emio::ReadyEvent> event = co_await source.readable();
  (void)event;
}

// A frame far larger than the pool's blocks.
Task<> oversized(bool& ran) {
  volatile char big[8192];
  big[0] = 1;
  ran = big[0] == 1;
  Error yielded = co_await emio::yield_now();
  (void)yielded;
  big[1] = 2;
}

}  // namespace

TEST_GROUP_BASE(Coroutine, emio_test::PipeReaderGroup){void teardown() override{CHECK_OK(source.close());
}
}
;

TEST(Coroutine, SpawnedCoroutineRunsToCompletion) {
  bool ran = false;
  Result<emio::TaskId> task = executor.spawn(set_when_run(ran));
  emio_test::run_to_completion(executor, task);
  CHECK(ran);
  CHECK_EQUAL(0u, executor.frame_pool().frames_in_use());
}

TEST(Coroutine, CoroutineDoesNotRunBeforeItIsSpawned) {
  bool ran = false;
  Task<> task = set_when_run(ran);
  CHECK(task.valid());
  CHECK_FALSE(ran);
}

TEST(Coroutine, ReadyCoroutinesResumeInFifoOrder) {
  Trace trace;
  CHECK(executor.spawn(record_twice(trace, 'a', 'A')).ok());
  Result<emio::TaskId> last = executor.spawn(record_twice(trace, 'b', 'B'));
  emio_test::run_to_completion(executor, last);
  STRCMP_EQUAL("abAB", trace.steps);
}

TEST(Coroutine, ExhaustedFramePoolMakesSpawnFail) {
  for (int i = 0; i < 4; ++i) CHECK(executor.spawn(park_forever(source)).ok());
  Result<emio::TaskId> fifth = executor.spawn(park_forever(source));
  CHECK_ERROR(emio::frame_pool_exhausted, fifth.error());
  CHECK_EQUAL(1u, executor.frame_pool().allocation_failures());
}

TEST(Coroutine, FinishedCoroutineGivesItsFrameBack) {
  bool ran = false;
  for (int i = 0; i < 8; ++i) {  // twice the pool's frames, one at a time
    Result<emio::TaskId> task = executor.spawn(set_when_run(ran));
    emio_test::run_to_completion(executor, task);
  }
  CHECK(ran);
  CHECK_EQUAL(0u, executor.frame_pool().allocation_failures());
}

TEST(Coroutine, FrameLargerThanThePoolsBlocksIsRefusedAsTooLargeWithItsSize) {
  bool ran = false;
  Result<emio::TaskId> task = executor.spawn(oversized(ran));
  CHECK_ERROR(emio::frame_too_large, task.error());
  CHECK(emio::FramePool::last_oversized_frame_bytes() > 8192);  // the frame holds an 8 KiB array
  CHECK_FALSE(ran);
}

TEST(Coroutine, AnExhaustedPoolIsNotReportedAsTooLarge) {
  bool ran = false;
  Result<emio::TaskId> first = executor.spawn(oversized(ran));
  CHECK_ERROR(emio::frame_too_large, first.error());
  for (int i = 0; i < 4; ++i) CHECK(executor.spawn(park_forever(source)).ok());  // every frame of the pool
  CHECK_ERROR(emio::frame_pool_exhausted, executor.spawn(park_forever(source)).error());
  CHECK_EQUAL(0u, emio::FramePool::last_oversized_frame_bytes());
}

TEST(Coroutine, NestedTasksReturnTheirValues) {
  int result = 0;
  Result<emio::TaskId> task = executor.spawn(add_two(result));
  emio_test::run_to_completion(executor, task);
  CHECK_EQUAL(2, result);
}

TEST(Coroutine, NestedTaskWithoutAFrameReturnsAnError) {
  struct Outcome {
    Error error;
  } outcome;
  auto nested = [](Outcome& outcome, emio::PollFd& source) -> Task<> {
    (void)source;
    Result<int> value = co_await add_one(1);
    outcome.error = value.ok() ? Error{} : value.error();
  };
  for (int i = 0; i < 3; ++i) CHECK(executor.spawn(park_forever(source)).ok());
  Result<emio::TaskId> task = executor.spawn(nested(outcome, source));  // takes the last frame
  emio_test::run_to_completion(executor, task);
  CHECK_ERROR(emio::frame_pool_exhausted, outcome.error);
}

TEST(Coroutine, WakeQueuesTheTaskInsteadOfResumingItInsideTheTurn) {
  bool resumed = false;
  CHECK(executor.spawn(wait_for_readable(source, resumed)).ok());
  CHECK_OK(executor.run_once(0));  // parks on readable
  CHECK_EQUAL(1, emio_test::write_bytes(pipe.second.get(), 1));
  CHECK(REQUIRE_VALUE(executor.driver().turn(10000)) > 0);  // dispatch calls the task's waker
  CHECK_FALSE(resumed);
  CHECK_OK(executor.run_once(0));
  CHECK(resumed);
}

TEST(Coroutine, SpuriousWakeRepollsWithoutResuming) {
  size_t got = 0;
  Result<emio::TaskId> task = executor.spawn(read_one(source, got));
  CHECK_OK(executor.run_once(0));  // parks: the pipe is empty
  CHECK_EQUAL(1, emio_test::write_bytes(pipe.second.get(), 1));
  CHECK(REQUIRE_VALUE(executor.driver().turn(10000)) > 0);
  CHECK_EQUAL(1u, emio_test::drain(source.fd()));  // someone else took the byte: the wake is now spurious
  CHECK_OK(executor.run_once(0));
  CHECK_EQUAL(1u, executor.stats().polls_pending);
  CHECK_FALSE(executor.is_done(REQUIRE_VALUE(task)));
  CHECK_EQUAL(3, emio_test::write_bytes(pipe.second.get(), 3));
  emio_test::run_to_completion(executor, task);
  CHECK_EQUAL(3u, got);
}

TEST(Coroutine, DestroyingTheExecutorDestroysParkedCoroutines) {
  bool destroyed = false;
  {
    Executor scoped;
    executor.frame_pool().uninstall();  // one installed pool per process: lend the slot to `scoped`
    CHECK_OK(scoped.init(emio_test::executor_config(2)));
    auto scoped_pipe = emio_test::make_pipe();
    emio::PollFd scoped_source =
        REQUIRE_TAKE(emio::PollFd::adopt(scoped.handle(), std::move(scoped_pipe.first), emio::Interest::readable));
    CHECK(scoped.spawn(park_with_local(scoped_source, destroyed)).ok());
    CHECK_OK(scoped.run_once(0));
    CHECK_FALSE(destroyed);
    CHECK_OK(scoped_source.close());
  }
  CHECK(destroyed);
  CHECK_OK(executor.frame_pool().install());
}

TEST(Coroutine, SecondExecutorWithCoroutinesIsRefusedWhileOneIsAlive) {
  Executor second;
  CHECK_ERROR(emio::Error::from_errno(EBUSY), second.init(emio_test::executor_config(2)));
}

TEST(Coroutine, RemoteSpawnOfACoroutineRunsIt) {
  bool ran = false;
  std::thread remote([&] { CHECK_OK(executor.remote().spawn(set_when_run(ran))); });
  remote.join();
  bool* flag = &ran;
  CHECK_OK(executor.run_until([](void* context) { return *static_cast<bool*>(context); }, flag));
  CHECK(ran);
}
