// SPDX-License-Identifier: MIT
// Executor with callback tasks: FIFO order, run/run_until/stop, capacities, timers driving the turn
// timeout, and spawning from other threads through the inbox.
#include <atomic>
#include <thread>

#include "emio/runtime/executor.h"
#include "emio/runtime/frame_pool.h"
#include "runtime/runtime_fixture.h"
#include "support/allocation_counter.h"
#include "support/check.h"
#include "support/driver_fixture.h"

using emio::Executor;
using emio::TaskId;

namespace {

struct Trace {
  int order[16] = {};
  int count = 0;
  void add(int step) { order[count++] = step; }
};

struct Step {
  Trace* trace;
  int number;
  static void run(void* context) {
    auto* step = static_cast<Step*>(context);
    step->trace->add(step->number);
  }
};

void set_flag(void* context) { *static_cast<bool*>(context) = true; }
void stop_executor(void* context) { static_cast<Executor*>(context)->stop(); }
bool flag_is_set(void* context) { return *static_cast<bool*>(context); }

emio::Task<> sleep_briefly(bool& done) {
  emio::Error slept = co_await emio::sleep_ms(1);
  done = slept.ok();
}

}  // namespace

TEST_GROUP(Executor) {
  Executor executor;
  void setup() override { CHECK_OK(executor.init(emio_test::executor_config(0))); }
};

TEST(Executor, CallbacksRunInSpawnOrder) {
  Trace trace;
  Step steps[] = {{&trace, 1}, {&trace, 2}, {&trace, 3}};
  for (Step& step : steps) CHECK(executor.spawn(&Step::run, &step).ok());
  CHECK_OK(executor.run_once(0));
  CHECK_EQUAL(3, trace.count);
  CHECK_EQUAL(1, trace.order[0]);
  CHECK_EQUAL(2, trace.order[1]);
  CHECK_EQUAL(3, trace.order[2]);
}

TEST(Executor, TaskSpawnedByATaskRunsInTheNextIteration) {
  struct Spawner {
    Executor* executor;
    bool child_ran = false;
    static void run(void* context) {
      auto* self = static_cast<Spawner*>(context);
      CHECK(self->executor->spawn(&set_flag, &self->child_ran).ok());
    }
  } spawner{&executor};
  CHECK(executor.spawn(&Spawner::run, &spawner).ok());
  CHECK_OK(executor.run_once(0));
  CHECK_FALSE(spawner.child_ran);
  CHECK_OK(executor.run_once(0));
  CHECK(spawner.child_ran);
}

TEST(Executor, RunReturnsAfterStop) {
  CHECK(executor.spawn(&stop_executor, &executor).ok());
  CHECK_OK(executor.run());
}

TEST(Executor, RunUntilReturnsOnceTheConditionHolds) {
  bool done = false;
  CHECK(executor.spawn(&set_flag, &done).ok());
  CHECK_OK(executor.run_until(&flag_is_set, &done));
  CHECK(done);
}

TEST(Executor, RunUntilTaskReturnsWhenTheTaskHasRun) {
  bool ran = false;
  emio::Result<TaskId> task = executor.spawn(&set_flag, &ran);
  CHECK_FALSE(executor.is_done(REQUIRE_VALUE(task)));
  emio_test::run_to_completion(executor, task);
  CHECK(ran);
  CHECK(executor.is_done(REQUIRE_VALUE(task)));
}

TEST(Executor, StopBeforeRunUntilEndsItAsCancelled) {
  bool never = false;
  executor.stop();
  CHECK_ERROR(emio::Error::from_errno(ECANCELED), executor.run_until(&flag_is_set, &never));
}

TEST(Executor, FullTaskTableRefusesASpawn) {
  Executor small;
  CHECK_OK(small.init(emio_test::executor_config(0, 2)));
  bool ran = false;
  CHECK(small.spawn(&set_flag, &ran).ok());
  CHECK(small.spawn(&set_flag, &ran).ok());
  emio::Result<TaskId> third = small.spawn(&set_flag, &ran);
  CHECK_ERROR(emio::capacity_full, third.error());
}

TEST(Executor, FinishedTaskFreesItsSlot) {
  Executor small;
  CHECK_OK(small.init(emio_test::executor_config(0, 1)));
  bool ran = false;
  CHECK(small.spawn(&set_flag, &ran).ok());
  CHECK_OK(small.run_once(0));
  CHECK(small.spawn(&set_flag, &ran).ok());
  CHECK_EQUAL(1u, small.live_tasks());
}

TEST(Executor, TimerEndsAnOtherwiseIdleRun) {
  emio::Timer timer;
  CHECK_OK(executor.timers().start_once(
      timer, 5, [](emio::Timer&, void* context) { static_cast<Executor*>(context)->stop(); }, &executor));
  CHECK_OK(executor.run());  // would sleep forever if the timer did not bound the turn
  CHECK_FALSE(timer.armed());
  CHECK_EQUAL(1u, executor.stats().timers_fired);
}

TEST(Executor, StopFromAnotherThreadEndsRun) {
  std::atomic<bool> running{false};
  CHECK(executor.spawn([](void* context) { static_cast<std::atomic<bool>*>(context)->store(true); }, &running).ok());
  std::thread stopper([&] {
    while (!running.load()) std::this_thread::yield();
    executor.stop();
  });
  CHECK_OK(executor.run());
  stopper.join();
}

TEST(Executor, RemoteSpawnRunsOnTheExecutorThread) {
  struct Probe {
    Executor* executor;
    std::thread::id ran_on;
    static void run(void* context) {
      auto* probe = static_cast<Probe*>(context);
      probe->ran_on = std::this_thread::get_id();
      probe->executor->stop();
    }
  } probe{&executor, {}};
  std::thread remote([&] { CHECK_OK(executor.remote().spawn(&Probe::run, &probe)); });
  CHECK_OK(executor.run());
  remote.join();
  CHECK(probe.ran_on == std::this_thread::get_id());
  CHECK_EQUAL(1u, executor.stats().remote_spawns);
}

TEST(Executor, FullInboxRefusesARemoteSpawn) {
  bool ran = false;
  emio::Error last;
  int accepted = 0;
  std::thread remote([&] {
    for (int i = 0; i < 9; ++i) {  // the inbox holds 8 and nothing drains it meanwhile
      last = executor.remote().spawn(&set_flag, &ran);
      if (last.ok()) accepted += 1;
    }
  });
  remote.join();
  CHECK_EQUAL(8, accepted);
  CHECK_ERROR(emio::capacity_full, last);
}

TEST(Executor, RemoteSpawnsWaitInTheInboxWhileTheTaskTableIsFull) {
  Executor small;
  CHECK_OK(small.init(emio_test::executor_config(0, 1)));
  int runs = 0;
  auto count = [](void* context) { *static_cast<int*>(context) += 1; };
  CHECK_OK(small.remote().spawn(count, &runs));
  CHECK_OK(small.remote().spawn(count, &runs));
  CHECK_OK(small.run_once(0));
  CHECK_EQUAL(1, runs);
  CHECK_OK(small.run_once(0));
  CHECK_EQUAL(2, runs);
}

TEST(Executor, InitOnCallerStorageAllocatesNothing) {
  static emio::DriverStorage<16, 8> driver_storage;
  static emio::ExecutorStorage<8, 4, 1024, 2, 4> storage;
  emio::DriverConfig driver = driver_storage.config();
  driver.backend = emio_test::current_backend;
  bool done = false;
#if defined(_WIN32)
  // mingw's emulated TLS allocates a thread's block of a thread_local at its first touch (once per thread,
  // the toolchain's, not emio's table): the frame pool's error word is touched here, before counting.
  (void)emio::FramePool::last_allocation_error();
#endif
  const uint64_t before = emio_test::allocations_so_far();
  {
    Executor fixed;  // the group's executor has no frame pool, so this one may install its own
    CHECK_OK(fixed.init(storage.config(driver)));
    CHECK_EQUAL(8u, fixed.task_capacity());
    CHECK_EQUAL(2u, fixed.frame_pool().frame_count());
    emio_test::run_to_completion(fixed, REQUIRE_VALUE(fixed.spawn(sleep_briefly(done))));
  }
  CHECK_EQUAL(0u, emio_test::allocations_so_far() - before);
  CHECK(done);
}
