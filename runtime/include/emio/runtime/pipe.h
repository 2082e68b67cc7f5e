// SPDX-License-Identifier: MIT
// A pipe, both ends registered byte streams (read(2)/write(2)): read_end readable, write_end writable.
// A read on read_end returns 0 once every write end is closed; a write on write_end fails with EPIPE
// once the read end is closed (and raises SIGPIPE unless ignored: daemons ignore it). Their awaits go
// through the ring where TcpStream's do (native_stream.h), else through readiness.
#pragma once

#include "emio/driver/handle.h"
#include "emio/port/result.h"
#include "emio/runtime/stream.h"

namespace emio {

struct Pipe {
  ByteStream read_end;
  ByteStream write_end;

  // pipe2(O_NONBLOCK | O_CLOEXEC), then both ends registered. Errors: EMFILE/ENFILE, registration errors.
  static Result<Pipe> open(Handle handle);
};

}  // namespace emio
