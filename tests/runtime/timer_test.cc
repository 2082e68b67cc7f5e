// SPDX-License-Identifier: MIT
// TimerQueue: deadline order, one-shot and periodic timers, cancellation, lateness, capacity. Deadlines
// are given explicitly (start_at) and fire_due gets its "now", so no test depends on the clock's pace.
#include <cstdint>
#include <random>

#include "emio/runtime/errors.h"
#include "emio/runtime/timer.h"
#include "support/check.h"

using emio::Timer;
using emio::TimerQueue;

namespace {

// Records the order in which timers fire, by their index in a fixture array.
struct FiringLog {
  Timer* base = nullptr;
  int order[64] = {};
  int count = 0;
  static void record(Timer& timer, void* context) {
    auto* log = static_cast<FiringLog*>(context);
    log->order[log->count++] = static_cast<int>(&timer - log->base);
  }
};

void count_firing(Timer&, void* context) { *static_cast<int*>(context) += 1; }

}  // namespace

TEST_GROUP(Timer) {
  TimerQueue queue;
  Timer timers[8];
  FiringLog log;
  int fired = 0;
  void setup() override {
    CHECK_OK(queue.init(8));
    log.base = timers;
  }
  void start_logged(int index, uint64_t deadline_ms) {
    CHECK_OK(queue.start_at(timers[index], deadline_ms, 0, &FiringLog::record, &log));
  }
};

TEST(Timer, DueTimersFireInDeadlineOrder) {
  start_logged(0, 1030);
  start_logged(1, 1010);
  start_logged(2, 1020);
  CHECK_EQUAL(3u, queue.fire_due(2000));
  CHECK_EQUAL(3, log.count);
  CHECK_EQUAL(1, log.order[0]);
  CHECK_EQUAL(2, log.order[1]);
  CHECK_EQUAL(0, log.order[2]);
}

TEST(Timer, EqualDeadlinesFireInStartOrder) {
  start_logged(2, 1000);
  start_logged(0, 1000);
  start_logged(1, 1000);
  CHECK_EQUAL(3u, queue.fire_due(1000));
  CHECK_EQUAL(2, log.order[0]);
  CHECK_EQUAL(0, log.order[1]);
  CHECK_EQUAL(1, log.order[2]);
}

TEST(Timer, TimerBeforeItsDeadlineDoesNotFire) {
  start_logged(0, 1000);
  CHECK_EQUAL(0u, queue.fire_due(999));
  CHECK(timers[0].armed());
}

TEST(Timer, OneShotTimerFiresOnceAndDisarms) {
  CHECK_OK(queue.start_at(timers[0], 1000, 0, count_firing, &fired));
  CHECK_EQUAL(1u, queue.fire_due(1000));
  CHECK_EQUAL(0u, queue.fire_due(5000));
  CHECK_EQUAL(1, fired);
  CHECK_FALSE(timers[0].armed());
}

TEST(Timer, PeriodicTimerFiresEveryPeriod) {
  CHECK_OK(queue.start_at(timers[0], 1000, 100, count_firing, &fired));
  CHECK_EQUAL(1u, queue.fire_due(1000));
  CHECK_EQUAL(0u, queue.fire_due(1099));
  CHECK_EQUAL(1u, queue.fire_due(1100));
  CHECK_EQUAL(2, fired);
  CHECK(timers[0].armed());
  CHECK_EQUAL(1200u, timers[0].deadline_ms());
}

TEST(Timer, LateTimerReportsItsLatenessToTheCallback) {
  struct Seen {
    uint64_t lateness_ms = 0;
  } seen;
  CHECK_OK(queue.start_at(
      timers[0], 1000, 0,
      [](Timer& timer, void* context) { static_cast<Seen*>(context)->lateness_ms = timer.lateness_ms(); }, &seen));
  CHECK_EQUAL(1u, queue.fire_due(1250));
  CHECK_EQUAL(250u, seen.lateness_ms);
}

TEST(Timer, LatePeriodicTimerFiresOnceWithoutCatchUpBurst) {
  CHECK_OK(queue.start_at(timers[0], 1000, 10, count_firing, &fired));
  // A turn that ran 55 ms long swallowed six periods: one firing, not six, now or at the next calls.
  CHECK_EQUAL(1u, queue.fire_due(1055));
  CHECK_EQUAL(0u, queue.fire_due(1055));
  CHECK_EQUAL(0u, queue.fire_due(1059));
  CHECK_EQUAL(1, fired);
  CHECK_EQUAL(55u, timers[0].lateness_ms());
}

TEST(Timer, LatePeriodicTimerKeepsItsPhase) {
  CHECK_OK(queue.start_at(timers[0], 1000, 10, count_firing, &fired));
  CHECK_EQUAL(1u, queue.fire_due(1055));
  CHECK_EQUAL(1060u, timers[0].deadline_ms());
}

TEST(Timer, CancelledTimerDoesNotFire) {
  CHECK_OK(queue.start_at(timers[0], 1000, 0, count_firing, &fired));
  CHECK(queue.cancel(timers[0]));
  CHECK_EQUAL(0u, queue.fire_due(5000));
  CHECK_EQUAL(0, fired);
  CHECK_EQUAL(0u, queue.size());
}

TEST(Timer, CancellingAnUnarmedTimerReportsFalse) { CHECK_FALSE(queue.cancel(timers[0])); }

TEST(Timer, CancellingFromTheMiddleKeepsTheRestInOrder) {
  for (int i = 0; i < 8; ++i) start_logged(i, 1000 + static_cast<uint64_t>(8 - i) * 10);
  CHECK(timers[3].cancel());
  CHECK(timers[6].cancel());
  CHECK_EQUAL(6u, queue.fire_due(5000));
  const int expected[] = {7, 5, 4, 2, 1, 0};
  for (int i = 0; i < 6; ++i) CHECK_EQUAL(expected[i], log.order[i]);
}

TEST(Timer, CallbackCanCancelItsPeriodicTimer) {
  CHECK_OK(queue.start_at(
      timers[0], 1000, 10, [](Timer& timer, void*) { CHECK(timer.cancel()); }, nullptr));
  CHECK_EQUAL(1u, queue.fire_due(1000));
  CHECK_FALSE(timers[0].armed());
  CHECK_EQUAL(0u, queue.fire_due(2000));
}

TEST(Timer, RestartFromItsCallbackWaitsForTheNextFireDue) {
  struct Restarter {
    TimerQueue* queue;
    int runs = 0;
    static void fire(Timer& timer, void* context) {
      auto* self = static_cast<Restarter*>(context);
      self->runs += 1;
      CHECK_OK(self->queue->start_at(timer, 0, 0, &Restarter::fire, self));  // already due
    }
  } restarter{&queue};
  CHECK_OK(queue.start_at(timers[0], 1000, 0, &Restarter::fire, &restarter));
  CHECK_EQUAL(1u, queue.fire_due(1000));
  CHECK_EQUAL(1, restarter.runs);
  CHECK_EQUAL(1u, queue.fire_due(1000));
  CHECK_EQUAL(2, restarter.runs);
}

TEST(Timer, FullQueueRefusesAnotherTimer) {
  TimerQueue small;
  CHECK_OK(small.init(2));
  CHECK_OK(small.start_at(timers[0], 1000, 0, count_firing, &fired));
  CHECK_OK(small.start_at(timers[1], 1000, 0, count_firing, &fired));
  CHECK_ERROR(emio::capacity_full, small.start_at(timers[2], 1000, 0, count_firing, &fired));
}

TEST(Timer, ZeroPeriodIsRefused) {
  CHECK_ERROR(emio::Error::from_errno(EINVAL), queue.start_periodic(timers[0], 0, count_firing, &fired));
}

TEST(Timer, DestroyedTimerLeavesTheQueue) {
  {
    Timer scoped;
    CHECK_OK(queue.start_at(scoped, 1000, 0, count_firing, &fired));
    CHECK_EQUAL(1u, queue.size());
  }
  CHECK_EQUAL(0u, queue.size());
  CHECK_EQUAL(0u, queue.fire_due(5000));
}

TEST(Timer, NextTimeoutIsTheTimeToTheEarliestDeadline) {
  start_logged(0, 1300);
  start_logged(1, 1200);
  CHECK_EQUAL(200, queue.next_timeout_ms(1000));
  CHECK_EQUAL(0, queue.next_timeout_ms(1250));
}

TEST(Timer, EmptyQueueWaitsForever) { CHECK_EQUAL(-1, queue.next_timeout_ms(1000)); }

TEST(Timer, ManyRandomTimersWithCancellationsFireInOrder) {
  constexpr int count = 256;
  static Timer many[count];
  TimerQueue big;
  CHECK_OK(big.init(count));
  std::mt19937 random(12345);
  struct Check {
    uint64_t last_deadline = 0;
    int fired = 0;
    static void fire(Timer& timer, void* context) {
      auto* check = static_cast<Check*>(context);
      CHECK(timer.deadline_ms() >= check->last_deadline);
      check->last_deadline = timer.deadline_ms();
      check->fired += 1;
    }
  } check;
  for (Timer& timer : many) CHECK_OK(big.start_at(timer, 1000 + random() % 5000, 0, &Check::fire, &check));
  int cancelled = 0;
  for (int i = 0; i < count; i += 3) cancelled += many[i].cancel() ? 1 : 0;
  CHECK_EQUAL(static_cast<uint32_t>(count - cancelled), big.fire_due(10000));
  CHECK_EQUAL(count - cancelled, check.fired);
}
