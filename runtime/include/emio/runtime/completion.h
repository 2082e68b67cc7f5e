// SPDX-License-Identifier: MIT
// Awaiting a completion operation (emio/driver/operation.h) from an emio::Task:
//
//   emio::Operation recv;                                  // caller-owned, stays put until completed
//   emio::prepare_recv(recv, source, buffer, emio::Waker{});  // the await sets on_complete
//   Result<uint32_t> got = co_await emio::complete(recv);   // bytes, or ECONNRESET, ECANCELED, ...
//
// The operation is submitted on the first poll with the task's Waker as its completion, which only
// queues the task; the coroutine resumes once the driver has run the completion. Single-shot kinds only:
// a multishot operation completes many times and is refused (EINVAL).
//
// Not cancellable at once: the kernel holds an in-flight record until it completes, so the awaiting frame
// cannot let go of it early. with_timeout refuses a CompletionOp at compile time; race a timeout operation
// and a cancel operation instead. Executor's destructor shuts the driver down first, so every in-flight
// operation completes (ECANCELED) before the coroutines that own the records are destroyed.
#pragma once

#include <cstdint>

#include "emio/driver/operation.h"
#include "emio/port/result.h"
#include "emio/runtime/task.h"

namespace emio {

class [[nodiscard]] CompletionOp {
 public:
  using Output = Result<uint32_t>;
  // with_timeout checks this: abandoning an in-flight operation is not possible (see above).
  static constexpr bool cancellable = false;

  explicit CompletionOp(Operation& operation) : operation_(&operation) {}

  bool poll(PollContext& context);
  // The operation's value (bytes moved, the accepted fd, 0), its error, or why it could not be submitted
  // (EBUSY: capacity or the source's direction taken; EALREADY: already in flight; Error::shut_down).
  Output take_output() const;
  // Nothing to forget: the completion will queue the task (a stale wake is harmless).
  void cancel() {}

 private:
  Operation* operation_;
  Error submit_error_{};
  bool submitted_ = false;
};

inline CompletionOp complete(Operation& operation) { return CompletionOp(operation); }

}  // namespace emio
