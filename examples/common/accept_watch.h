// SPDX-License-Identifier: MIT
// Accepting clients from callbacks (IoWatch), for every listener emio-bridge has: up to
// accepts_per_callback connections per readiness event (then the other sources get their turn: arming
// a watch while the listener is still ready calls back at the next iteration), each handed to `admit`.
// Failures follow AcceptPolicy: out of fds, the watch stays unarmed for resource_backoff_ms on a timer
// instead of calling back at once on a listener that stays readable.
#pragma once

#include <cstdint>

#include "common/accept_policy.h"
#include "emio/runtime/executor.h"
#include "emio/runtime/io_watch.h"
#include "emio/runtime/stream.h"
#include "emio/runtime/timer.h"

namespace emio_examples {

class AcceptWatch {
 public:
  using Admit = void (*)(void* context, emio::TcpStream stream);
  static constexpr int accepts_per_callback = 16;

  explicit AcceptWatch(const char* listener_name) : policy_(listener_name) {}

  // Starts accepting from `listener`, which must outlive stop().
  void start(emio::Executor& executor, emio::TcpListener& listener, Admit admit, void* context);
  // Disarms the watch and the back-off timer; nothing is called after it returns, also when it is called
  // from inside `admit`.
  void stop();

  // Failed accepts since start-up, for the metrics.
  uint64_t failures() const { return policy_.failures(); }

 private:
  static void on_ready(void* self, emio::ReadyEvent event);
  static void on_backoff_passed(emio::Timer& timer, void* self);
  void accept_pending();
  void arm();

  AcceptPolicy policy_;
  emio::Executor* executor_ = nullptr;
  emio::TcpListener* listener_ = nullptr;
  Admit admit_ = nullptr;
  void* context_ = nullptr;
  emio::IoWatch watch_;
  emio::Timer backoff_timer_;
  bool stopped_ = true;
};

}  // namespace emio_examples
