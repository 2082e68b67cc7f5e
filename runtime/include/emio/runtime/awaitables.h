// SPDX-License-Identifier: MIT
// The awaitables that are not tied to one IO resource: readiness of any registered source, sleeping,
// yielding, and a timeout around any other emio awaitable. Each is a Pollable (task.h): co_await it
// inside an emio::Task, as a temporary.
//
//   Error slept = co_await emio::sleep_ms(100);
//   Result<size_t> got = co_await emio::with_timeout(2000, stream.read(buffer));  // timed_out after 2 s
//   Result<ReadyEvent> event = co_await emio::ready(registration, Direction::read);
//
// One waiter per direction per source: the ScheduledIo keeps one waker for reading and one for writing
// (as Tokio's does), so two tasks awaiting the same direction of the same source replace each other.
#pragma once

#include <cstdint>
#include <utility>

#include "emio/driver/registration.h"
#include "emio/driver/scheduled_io.h"
#include "emio/runtime/errors.h"
#include "emio/runtime/executor.h"
#include "emio/runtime/task.h"
#include "emio/runtime/timer.h"

namespace emio {

// True while `registration` still owns its slot: Handle::deregister moves the slot's generation on, so
// a kept Registration never touches the source that reuses the slot.
inline bool is_live(const Registration& registration) {
  return registration.io != nullptr && registration.io->generation() == registration.token.generation();
}

// Completes `duration_ms` after its first poll, on the executor's timers. Output: Error{} or, when every
// timer slot is taken, capacity_full.
class [[nodiscard]] SleepOp {
 public:
  using Output = Error;
  explicit SleepOp(uint32_t duration_ms) : duration_ms_(duration_ms) {}
  SleepOp(SleepOp&& other) noexcept : duration_ms_(other.duration_ms_) {}  // only before the first poll

  bool poll(PollContext& context);
  Error take_output() const { return error_; }
  void cancel() { (void)timer_.cancel(); }

 private:
  static void on_timer(Timer& timer, void* self);

  uint32_t duration_ms_;
  Timer timer_;
  Waker waker_;
  Error error_;
  bool started_ = false;
  bool fired_ = false;
};

inline SleepOp sleep_ms(uint32_t duration_ms) { return SleepOp(duration_ms); }

// Completes when `direction` of the registered source is ready (or the driver shut down). Output: the
// ReadyEvent seen (hand it to ScheduledIo::clear_readiness after an EAGAIN), Error::shut_down, or
// Error::stale_token if the registration was removed.
class [[nodiscard]] ReadinessOp {
 public:
  using Output = Result<ReadyEvent>;
  ReadinessOp(Registration registration, Direction direction) : registration_(registration), direction_(direction) {}

  bool poll(PollContext& context);
  Output take_output() const;
  void cancel();

 private:
  Registration registration_;
  Direction direction_;
  ReadyEvent event_;
  bool stale_ = false;
  bool waiting_ = false;
};

inline ReadinessOp ready(Registration registration, Direction direction) {
  return ReadinessOp(registration, direction);
}

// Lets every task already queued run first, then resumes: a long computation's courtesy.
class [[nodiscard]] YieldOp {
 public:
  using Output = Error;
  bool poll(PollContext& context);
  Error take_output() const { return Error{}; }
  void cancel() {}

 private:
  bool yielded_ = false;
};

inline YieldOp yield_now() { return YieldOp(); }

// Runs `Op` with a deadline `timeout_ms` after the first poll. Output: Op's output if it completes in
// time (it wins a tie with the deadline), else timed_out (ETIMEDOUT) and the operation is cancelled
// (its waker forgotten; bytes it never transferred stay in the kernel). capacity_full if no timer slot.
template <Pollable Op>
class [[nodiscard]] TimeoutOp {
 public:
  using Output = typename Op::Output;
  TimeoutOp(uint32_t timeout_ms, Op&& inner) : inner_(std::move(inner)), timeout_ms_(timeout_ms) {}
  TimeoutOp(TimeoutOp&& other) noexcept : inner_(std::move(other.inner_)), timeout_ms_(other.timeout_ms_) {}

  bool poll(PollContext& context) {
    if (!started_) {
      started_ = true;
      waker_ = context.waker;
      error_ = context.executor.timers().start_once(timer_, timeout_ms_, &TimeoutOp::on_timer, this);
      if (error_.failed()) return true;
    }
    waker_ = context.waker;
    if (inner_.poll(context)) {
      (void)timer_.cancel();
      return true;
    }
    if (!expired_) return false;
    inner_.cancel();
    error_ = timed_out;
    return true;
  }
  Output take_output() {
    if (error_.failed()) return Output(error_);
    return inner_.take_output();
  }
  void cancel() {
    inner_.cancel();
    (void)timer_.cancel();
  }

 private:
  static void on_timer(Timer&, void* self) {
    auto* op = static_cast<TimeoutOp*>(self);
    op->expired_ = true;
    op->waker_.wake();
  }

  Op inner_;
  uint32_t timeout_ms_;
  Timer timer_;
  Waker waker_;
  Error error_;
  bool started_ = false;
  bool expired_ = false;
};

// Whether an operation can be abandoned at once (its cancel() forgets everything). Operations the kernel
// holds until they complete (CompletionOp) say `static constexpr bool cancellable = false`.
template <typename Op>
constexpr bool cancellable_at_once() {
  if constexpr (requires { Op::cancellable; }) {
    return Op::cancellable;
  } else {
    return true;
  }
}

template <Pollable Op>
TimeoutOp<Op> with_timeout(uint32_t timeout_ms, Op operation) {
  static_assert(std::is_constructible_v<typename Op::Output, Error>, "with_timeout needs an Output built from Error");
  static_assert(cancellable_at_once<Op>(),
                "this operation cannot be abandoned when the deadline passes: race a timeout operation instead");
  return TimeoutOp<Op>(timeout_ms, std::move(operation));
}

}  // namespace emio
