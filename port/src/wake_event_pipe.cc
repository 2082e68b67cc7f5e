// SPDX-License-Identifier: MIT
// POSIX systems without eventfd: a non-blocking pipe. A full pipe is already readable, so a write that
// fails with EAGAIN still leaves the poller woken.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "emio/port/wake_event.h"

namespace emio {

Error WakeEvent::open() {
  int ends[2];
  if (::pipe(ends) < 0) return Error::last_os_error();
  read_end_.reset(ends[0]);
  write_end_.reset(ends[1]);
  if (Error error = set_nonblocking(ends[0]); error.failed()) return error;
  return set_nonblocking(ends[1]);
}

Error WakeEvent::signal() {
  const char byte = 1;
  for (;;) {
    if (::write(write_end_.get(), &byte, 1) == 1) return Error{};
    if (errno == EINTR) continue;
    return errno == EAGAIN ? Error{} : Error::last_os_error();
  }
}

void WakeEvent::drain() {
  char buffer[64];
  while (::read(read_end_.get(), buffer, sizeof buffer) > 0) {
  }
}

}  // namespace emio
