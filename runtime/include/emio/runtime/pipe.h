// SPDX-License-Identifier: MIT
// A pipe, both ends registered: read_end readable, write_end writable. try_read on read_end returns 0
// once every write end is closed; try_write on write_end fails with EPIPE once the read end is closed
// (and raises SIGPIPE unless ignored: daemons ignore it).
#pragma once

#include "emio/driver/handle.h"
#include "emio/port/result.h"
#include "emio/runtime/poll_fd.h"

namespace emio {

struct Pipe {
  PollFd read_end;
  PollFd write_end;

  // pipe2(O_NONBLOCK | O_CLOEXEC), then both ends registered. Errors: EMFILE/ENFILE, registration errors.
  static Result<Pipe> open(Handle handle);
};

}  // namespace emio
