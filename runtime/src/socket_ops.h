// SPDX-License-Identifier: MIT
// The socket system calls every socket resource shares.
#pragma once

#include "emio/driver/handle.h"
#include "emio/port/fd.h"
#include "emio/port/result.h"
#include "emio/runtime/address.h"
#include "emio/runtime/poll_fd.h"

namespace emio::detail {

// socket(family, type), non-blocking and close-on-exec (port/socket.h). EMFILE/ENFILE when out of
// descriptors.
Result<Fd> open_socket(int family, int type);
// bind(2) to `address`.
Error bind_socket(int fd, const SocketAddress& address);
// getsockname (peer false) or getpeername (peer true).
Result<SocketAddress> socket_name(int fd, bool peer);
Error set_socket_option(int fd, int level, int name, int value);
// The pending error of a socket (SO_ERROR), read and cleared.
Error take_socket_error(int fd);

struct PollFdPair {
  PollFd first;
  PollFd second;
};
// socketpair(AF_UNIX, type), both ends registered for reading and writing.
Result<PollFdPair> registered_socket_pair(Handle handle, int type);

}  // namespace emio::detail
