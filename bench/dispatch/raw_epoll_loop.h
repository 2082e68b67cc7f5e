// SPDX-License-Identifier: MIT
// The "speed of light": the ping-pong written directly on epoll, as a hand-tuned C loop would be.
// Registered the way the emio epoll backend registers (EPOLLIN | EPOLLRDHUP | EPOLLET), with the
// endpoint's address as the event's data, so an event leads to its endpoint in one load.
#pragma once

#include <sys/epoll.h>

#include <cerrno>
#include <cstdint>

#include "emio/driver/backend_config.h"
#include "emio/port/error.h"
#include "emio/port/fd.h"
#include "ping_pong.h"

namespace emio_bench {

// One epoll_wait of a loop, counted in `game`: the events it returned (none after EINTR), or -1 with errno.
inline int counted_epoll_wait(int epoll_fd, epoll_event* events, PingPong& game) {
  const int count = ::epoll_wait(epoll_fd, events, static_cast<int>(event_capacity), -1);
  game.counters.waits += 1;
  if (count < 0) return errno == EINTR ? 0 : -1;
  game.counters.events += static_cast<uint64_t>(count);
  return count;
}

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
