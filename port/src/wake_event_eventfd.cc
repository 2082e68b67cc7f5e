// SPDX-License-Identifier: MIT
// Linux: one eventfd is both ends. A write adds to its counter and is a new edge for epoll even while
// the counter is non-zero, so the driver never has to read it (mio's waker works the same way).
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>

#include "emio/port/wake_event.h"

namespace emio {

Error WakeEvent::open() {
  const int fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (fd < 0) return Error::last_os_error();
  read_end_.reset(fd);
  return Error{};
}

Error WakeEvent::signal() {
  const uint64_t one = 1;
  for (;;) {
    if (::write(read_end_.get(), &one, sizeof one) == static_cast<ssize_t>(sizeof one)) return Error{};
    if (errno == EINTR) continue;
    // EAGAIN: the counter is at its maximum (2^64 - 2). Empty it; the next write is a new edge.
    if (errno != EAGAIN) return Error::last_os_error();
    drain();
  }
}

void WakeEvent::drain() {
  uint64_t count = 0;
  // EAGAIN here means already empty, which is what we want.
  (void)::read(read_end_.get(), &count, sizeof count);
}

}  // namespace emio
