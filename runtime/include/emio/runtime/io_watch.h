// SPDX-License-Identifier: MIT
// Callback-style readiness, for code that does not use coroutines (the C API, plain callbacks):
//
//   static void on_readable(void* context, emio::ReadyEvent event) { ...try_read until would_block...;
//                                                                     watch.arm(...) again }
//   emio::IoWatch watch;   // caller-owned; lives as long as it may be armed
//   watch.arm(executor, stream.registration(), emio::Direction::read, on_readable, context);
//
// The callback runs once per arm, from the executor's ready queue (FIFO with the tasks), never inside
// the driver's dispatch. Edge-triggered contract: before arming again, do the operation until it returns
// would_block (which clears the readiness); arming while still ready calls back at the next iteration.
#pragma once

#include "emio/driver/registration.h"
#include "emio/driver/scheduled_io.h"
#include "emio/port/error.h"
#include "emio/runtime/ready_queue.h"

namespace emio {

class Executor;

class IoWatch {
 public:
  // `event` is the readiness seen when the callback was queued; event.shut_down when the driver stopped.
  using Callback = void (*)(void* context, ReadyEvent event);

  IoWatch() = default;
  IoWatch(const IoWatch&) = delete;
  IoWatch& operator=(const IoWatch&) = delete;
  // Disarms: the waker is forgotten and a queued callback is taken off the ready queue.
  ~IoWatch() { disarm(); }

  // Calls `callback(context, event)` once, when `direction` of `registration` is ready (at the next
  // iteration if it already is). Re-arming replaces the previous arm. Errors: Error::stale_token if the
  // registration was removed. One watcher (or awaiting task) per direction per source.
  Error arm(Executor& executor, Registration registration, Direction direction, Callback callback, void* context);
  // Cancels a pending callback; safe to call when not armed.
  void disarm();
  bool armed() const { return armed_; }

 private:
  static void on_wake(void* self);
  static void run(Runnable& runnable);

  Runnable runnable_;  // first member: run() recovers the IoWatch from it
  Executor* executor_ = nullptr;
  Registration registration_{};
  Direction direction_ = Direction::read;
  Callback callback_ = nullptr;
  void* context_ = nullptr;
  bool armed_ = false;
};

static_assert(sizeof(void*) != 8 || sizeof(IoWatch) <= 88, "an IoWatch record grew");

}  // namespace emio
