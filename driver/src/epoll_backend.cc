// SPDX-License-Identifier: MIT
#include "emio/driver/epoll_backend.h"

#include <cerrno>

namespace emio {

Error EpollBackend::open(const BackendOptions& /*options*/) {
  const int fd = ::epoll_create1(EPOLL_CLOEXEC);
  if (fd < 0) return Error::last_os_error();
  epoll_.reset(fd);
  return Error{};
}

Error EpollBackend::add(int fd, Token token, Interest interest) {
  epoll_event event{};
  // EPOLLRDHUP reports a peer's shutdown(SHUT_WR) without a read; EPOLLET gives mio's contract:
  // one event per edge, and the consumer works until EAGAIN.
  event.events = EPOLLET | EPOLLRDHUP;
  if (interest.contains(Interest::readable)) event.events |= EPOLLIN;
  if (interest.contains(Interest::writable)) event.events |= EPOLLOUT;
  if (interest.contains(Interest::priority)) event.events |= EPOLLPRI;
  event.data.u64 = token.bits();
  if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &event) < 0) return Error::last_os_error();
  return Error{};
}

Error EpollBackend::remove(int fd, Token /*token*/) {
  // Kernels before 2.6.9 required a non-null event even for EPOLL_CTL_DEL.
  epoll_event unused{};
  if (::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, fd, &unused) < 0) return Error::last_os_error();
  return Error{};
}

Result<uint32_t> EpollBackend::wait(std::span<Event> events, int timeout_ms) {
  // epoll_wait, not epoll_pwait2: the latter is missing under qemu-user and valgrind (ENOSYS).
  const int count = ::epoll_wait(epoll_.get(), events.data(), static_cast<int>(events.size()), timeout_ms);
  if (count < 0) return Error::last_os_error();
  return static_cast<uint32_t>(count);
}

}  // namespace emio
