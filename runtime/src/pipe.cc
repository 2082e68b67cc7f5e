// SPDX-License-Identifier: MIT
#include "emio/runtime/pipe.h"

#include <fcntl.h>
#include <unistd.h>

#include <utility>

#include "emio/port/socket.h"

namespace emio {

Result<Pipe> Pipe::open(Handle handle) {
  int ends[2];
  if (pipe_nonblocking(ends) < 0) return Error::last_os_error();
  Fd read_fd(ends[0]);
  Fd write_fd(ends[1]);
  Result<PollFd> read_end = PollFd::adopt(handle, std::move(read_fd), Interest::readable);
  if (!read_end.ok()) return read_end.error();
  Result<PollFd> write_end = PollFd::adopt(handle, std::move(write_fd), Interest::writable);
  if (!write_end.ok()) return write_end.error();
  return Pipe{ByteStream(std::move(read_end.value()), ByteTransfer::file),
              ByteStream(std::move(write_end.value()), ByteTransfer::file)};
}

}  // namespace emio
