// SPDX-License-Identifier: MIT
// The ping-pong through emio, used the way a runtime uses the driver: each endpoint is a source with
// a waker; the driver's turn sets readiness and calls the wakers, which queue their endpoints; the
// loop then serves each queued endpoint with poll_ready / drain until EAGAIN / clear_readiness, and
// the final poll_ready stores the waker again.
#pragma once

#include "emio/driver/driver.h"
#include "ping_pong.h"

namespace emio_bench {

class DriverLoop {
 public:
  static constexpr const char* mode_name = "emio-driver";

  // Runs on `backend`, which the benchmark pins (the raw loop it is compared with is epoll).
  emio::Error open(PingPong& game, emio::BackendChoice backend);
  const char* backend_name() const { return driver_.backend_name(); }
  emio::Error run(PingPong& game);

 private:
  struct Source {
    DriverLoop* loop = nullptr;
    Endpoint* endpoint = nullptr;
    emio::Registration registration;
    emio::Waker waker;
  };

  // The waker of every source: queues the source to be served after the turn.
  static void queue_source(void* context);
  emio::Error serve(PingPong& game, Source& source);

  // Declared before the driver, which touches the storage when it shuts down in its destructor.
  emio::DriverStorage<max_endpoints, event_capacity> storage_;
  emio::Driver driver_;
  Source sources_[max_endpoints];
  // Each source is queued at most once per turn, since the driver takes its waker when it calls it.
  Source* ready_[max_endpoints] = {};
  uint32_t ready_count_ = 0;
};

}  // namespace emio_bench
