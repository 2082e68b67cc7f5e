// SPDX-License-Identifier: MIT
#include "emio/runtime/completion.h"

#include <cerrno>

#include "emio/runtime/executor.h"

namespace emio {

bool CompletionOp::poll(PollContext& context) {
  if (!submitted_) {
    submitted_ = true;
    if (operation_->kind == OpKind::accept_multishot || operation_->kind == OpKind::recv_multishot) {
      submit_error_ = Error::from_errno(EINVAL);
      return true;
    }
    operation_->on_complete = context.waker;
    submit_error_ = context.executor.driver().submit(*operation_);
    if (submit_error_.failed()) return true;
  }
  return !operation_->in_flight();
}

CompletionOp::Output CompletionOp::take_output() const {
  if (submit_error_.failed()) return submit_error_;
  if (operation_->result < 0) return operation_->error();
  return operation_->value();
}

}  // namespace emio
