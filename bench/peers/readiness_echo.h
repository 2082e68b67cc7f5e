// SPDX-License-Identifier: MIT
// The echo step of the readiness-based peers (raw epoll, libev): on readable, one recv of up to
// peer_buffer_bytes and one send of what came; a write the socket cannot take whole is kept and finished
// on writable, before the connection is read again. One recv per readable event, as libev's and libuv's
// own echo examples do: a second recv to see EAGAIN would only add a system call per request.
#pragma once

#include <sys/socket.h>

#include <cerrno>
#include <cstdint>

#include "peer_contract.h"

namespace emio_peers {

enum class EchoStep {
  echoed,   // everything read so far is written back: wait for readable
  blocked,  // part of it is still to be written: wait for writable
  closed,   // end of stream or an error: close the connection
};

// Lives in static tables only, zero-initialised: no member initialisers, so that the table is plain .bss
// and start-up touches none of its pages (the idle RSS is the program's, not the table's).
struct PendingEcho {
  uint32_t offset;  // first byte still to be written
  uint32_t bytes;   // bytes still to be written
  char buffer[peer_buffer_bytes];
};

inline EchoStep flush_pending(int fd, PendingEcho& echo) {
  while (echo.bytes > 0) {
    const ssize_t sent = ::send(fd, echo.buffer + echo.offset, echo.bytes, MSG_NOSIGNAL);
    if (sent < 0) return errno == EAGAIN || errno == EINTR ? EchoStep::blocked : EchoStep::closed;
    echo.offset += static_cast<uint32_t>(sent);
    echo.bytes -= static_cast<uint32_t>(sent);
  }
  return EchoStep::echoed;
}

inline EchoStep read_and_echo(int fd, PendingEcho& echo) {
  const ssize_t got = ::recv(fd, echo.buffer, sizeof echo.buffer, 0);
  if (got == 0) return EchoStep::closed;
  if (got < 0) return errno == EAGAIN || errno == EINTR ? EchoStep::echoed : EchoStep::closed;
  echo.offset = 0;
  echo.bytes = static_cast<uint32_t>(got);
  return flush_pending(fd, echo);
}

}  // namespace emio_peers
