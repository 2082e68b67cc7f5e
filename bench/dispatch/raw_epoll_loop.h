// SPDX-License-Identifier: MIT
// The "speed of light": the ping-pong written directly on epoll, as a hand-tuned C loop would be.
// Registered the way the emio epoll backend registers (EPOLLIN | EPOLLRDHUP | EPOLLET), with the
// endpoint's address as the event's data, so an event leads to its endpoint in one load.
#pragma once

#include <sys/epoll.h>

#include "emio/driver/backend_config.h"
#include "emio/port/error.h"
#include "emio/port/fd.h"
#include "ping_pong.h"

namespace emio_bench {

class RawEpollLoop {
 public:
  static constexpr const char* mode_name = "raw-epoll";

  emio::Error open(PingPong& game, emio::BackendChoice /*backend: always epoll*/);
  emio::Error run(PingPong& game);
  static const char* backend_name() { return "epoll"; }

 private:
  emio::Fd epoll_;
  epoll_event events_[event_capacity] = {};
};

}  // namespace emio_bench
