// SPDX-License-Identifier: MIT
#include "emio/runtime/awaitables.h"

namespace emio {

bool SleepOp::poll(PollContext& context) {
  waker_ = context.waker;
  if (!started_) {
    started_ = true;
    error_ = context.executor.timers().start_once(timer_, duration_ms_, &SleepOp::on_timer, this);
    if (error_.failed()) return true;
  }
  return fired_;
}

void SleepOp::on_timer(Timer&, void* self) {
  auto* op = static_cast<SleepOp*>(self);
  op->fired_ = true;
  op->waker_.wake();
}

bool ReadinessOp::poll(PollContext& context) {
  waiting_ = false;
  if (!is_live(registration_)) {
    stale_ = true;
    return true;
  }
  event_ = registration_.io->poll_ready(direction_, context.waker);
  waiting_ = !event_.is_ready();
  return !waiting_;
}

ReadinessOp::Output ReadinessOp::take_output() const {
  if (stale_) return Error::stale_token;
  if (event_.shut_down) return Error::shut_down;
  return event_;
}

void ReadinessOp::cancel() {
  if (waiting_ && is_live(registration_)) registration_.io->clear_waker(direction_);
  waiting_ = false;
}

bool YieldOp::poll(PollContext& context) {
  if (yielded_) return true;
  yielded_ = true;
  context.waker.wake();  // the task is running: it goes to the back of the ready queue
  return false;
}

}  // namespace emio
