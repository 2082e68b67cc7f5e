// SPDX-License-Identifier: MIT
#include "emio/runtime/io_watch.h"

#include <cstddef>
#include <type_traits>

#include "emio/runtime/awaitables.h"
#include "emio/runtime/executor.h"

namespace emio {

Error IoWatch::arm(Executor& executor, Registration registration, Direction direction, Callback callback,
                   void* context) {
  disarm();
  if (!is_live(registration)) return Error::stale_token;
  executor_ = &executor;
  registration_ = registration;
  direction_ = direction;
  callback_ = callback;
  context_ = context;
  runnable_.run = &IoWatch::run;
  armed_ = true;
  const ReadyEvent event = registration.io->poll_ready(direction, Waker{&IoWatch::on_wake, this});
  if (event.is_ready()) executor.schedule(runnable_);
  return Error{};
}

void IoWatch::disarm() {
  if (!armed_) return;
  armed_ = false;
  executor_->unschedule(runnable_);
  if (is_live(registration_)) registration_.io->clear_waker(direction_);
}

void IoWatch::on_wake(void* self) {
  auto* watch = static_cast<IoWatch*>(self);
  // Called from the driver's dispatch: only queue; the callback runs from the ready queue.
  if (watch->armed_) watch->executor_->schedule(watch->runnable_);
}

void IoWatch::run(Runnable& runnable) {
  static_assert(std::is_standard_layout_v<IoWatch> && offsetof(IoWatch, runnable_) == 0,
                "the ready queue's Runnable must be the watch's first member for this cast");
  auto& watch = reinterpret_cast<IoWatch&>(runnable);
  if (!watch.armed_) return;
  watch.armed_ = false;
  const ReadyEvent event = is_live(watch.registration_) ? watch.registration_.io->readiness(watch.direction_)
                                                        : ReadyEvent{Ready{}, 0, watch.direction_, true};
  watch.callback_(watch.context_, event);
}

}  // namespace emio
