// SPDX-License-Identifier: MIT
// Completion operations on a readiness backend (epoll): each one is tried with a non-blocking system
// call and, on EAGAIN, parked as the waker of its source's ScheduledIo until the source is ready again.
// Timeouts are kept in the same in-flight list and expire after each wait. Driver thread only.
#pragma once

#include <cstdint>

#include "emio/driver/handle.h"
#include "emio/driver/operation.h"
#include "emio/driver/scheduled_io.h"
#include "emio/port/result.h"

namespace emio {

class ReadinessOperations {
 public:
  ReadinessOperations() = default;
  ReadinessOperations(const ReadinessOperations&) = delete;
  ReadinessOperations& operator=(const ReadinessOperations&) = delete;
  ~ReadinessOperations() { release(); }

  // `receive_buffer_size`: the one buffer multishot receives land in (0: none), taken here, at init.
  Error init(OperationLedger* ledger, Handle handle, uint32_t receive_buffer_size);
  // Frees what init took (a failed Driver::init rolls back through it).
  void release() {
    delete[] receive_buffer_;
    receive_buffer_ = nullptr;
    receive_buffer_size_ = 0;
    queued_ = timers_ = 0;
  }
  // Queues `op` (already started in the ledger); it is tried at the next turn.
  void submit(Operation& op);
  // The wait a turn may take: 0 while operations are queued, else no longer than the nearest timeout.
  int clamp_wait_ms(int max_wait_ms) const;
  // After the wait: tries queued operations and expires timeouts.
  void run();
  // Driver shutdown: completes every operation in flight with ECANCELED.
  void cancel_all();

 private:
  static void on_source_ready(void* context);
  void attempt(Operation& op);
  void cancel(Operation& canceller);
  // The source's registration, made at the first EAGAIN.
  Result<ScheduledIo*> registration_of(Operation& op);
  bool deliver_one(Operation& op, int32_t result);

  OperationLedger* ledger_ = nullptr;
  Handle handle_{};
  uint32_t queued_ = 0;
  uint32_t timers_ = 0;
  std::byte* receive_buffer_ = nullptr;
  uint32_t receive_buffer_size_ = 0;
};

}  // namespace emio
