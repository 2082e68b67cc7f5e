// SPDX-License-Identifier: MIT
#include "raw_epoll_loop.h"

#include <cerrno>

namespace emio_bench {

using emio::Error;

Error RawEpollLoop::open(PingPong& game, emio::BackendChoice /*backend*/) {
  const int fd = ::epoll_create1(EPOLL_CLOEXEC);
  if (fd < 0) return Error::last_os_error();
  epoll_.reset(fd);
  for (uint32_t i = 0; i < game.endpoint_count(); ++i) {
    Endpoint& endpoint = game.endpoint(i);
    epoll_event event{};
    event.events = EPOLLIN | EPOLLRDHUP | EPOLLET;
    event.data.ptr = &endpoint;
    if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, endpoint.fd.get(), &event) < 0) return Error::last_os_error();
  }
  return Error{};
}

Error RawEpollLoop::run(PingPong& game) {
  while (!game.finished()) {
    const int count = counted_epoll_wait(epoll_.get(), events_, game);
    if (count < 0) return Error::last_os_error();
    for (int i = 0; i < count; ++i) {
      if (Error error = game.drain(*static_cast<Endpoint*>(events_[i].data.ptr)); error.failed()) return error;
    }
  }
  return Error{};
}

}  // namespace emio_bench
