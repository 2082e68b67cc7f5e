// SPDX-License-Identifier: MIT
#include "socket_ops.h"

#include <utility>

#include "emio/port/socket.h"
#include "emio/runtime/socket_calls.h"

namespace emio::detail {

Result<Fd> open_socket(int family, int type) {
  const int fd = socket_nonblocking(family, type);
  if (fd < 0) return Error::last_os_error();
  return Fd(fd);
}

Error bind_socket(int fd, const SocketAddress& address) {
  if (bind_fd(fd, address.native(), address.native_length()) < 0) return Error::last_os_error();
  return Error{};
}

Result<SocketAddress> socket_name(int fd, bool peer) {
  sockaddr_storage storage{};
  socklen_t length = sizeof storage;
  auto* native = reinterpret_cast<sockaddr*>(&storage);
  if (socket_name_fd(fd, peer, native, &length) < 0) return Error::last_os_error();
  return SocketAddress::from_native(native, length);
}

Error set_socket_option(int fd, int level, int name, int value) {
  if (set_option_fd(fd, level, name, value) < 0) return Error::last_os_error();
  return Error{};
}

Error take_socket_error(int fd) {
  int pending = 0;
  if (pending_error_fd(fd, &pending) < 0) return Error::last_os_error();
  return Error::from_errno(pending);
}

Result<PollFdPair> registered_socket_pair(Handle handle, int type) {
  int ends[2];
  if (socketpair_nonblocking(AF_UNIX, type, ends) < 0) return Error::last_os_error();
  Fd first_fd(ends[0]);
  Fd second_fd(ends[1]);
  const Interest both = Interest::readable | Interest::writable;
  Result<PollFd> first = PollFd::adopt_nonblocking(handle, std::move(first_fd), both);
  if (!first.ok()) return first.error();
  Result<PollFd> second = PollFd::adopt_nonblocking(handle, std::move(second_fd), both);
  if (!second.ok()) return second.error();
  return PollFdPair{std::move(first.value()), std::move(second.value())};
}

}  // namespace emio::detail
