// SPDX-License-Identifier: MIT
// socket_calls.h on Windows: Winsock's calls in the POSIX shape, errno set to the Winsock error's errno
// twin (Error::from_windows), so that PollFd::try_io tests EAGAIN/EWOULDBLOCK and EINTR as everywhere.
#include <cerrno>

#include "emio/runtime/socket_calls.h"

namespace emio::detail {
namespace {

int length_of(size_t length) { return static_cast<int>(length); }

// The POSIX shape of a Winsock answer: SOCKET_ERROR becomes -1 with errno set.
template <typename Count>
Count posix_shaped(int result) {
  if (result != SOCKET_ERROR) return static_cast<Count>(result);
  errno = Error::last_socket_error().value();
  return -1;
}

}  // namespace

ssize_t read_fd(int fd, void* buffer, size_t length) { return recv_fd(fd, buffer, length); }
ssize_t write_fd(int fd, const void* data, size_t length) { return send_fd(fd, data, length); }

ssize_t recv_fd(int fd, void* buffer, size_t length) {
  return posix_shaped<ssize_t>(::recv(socket_of_fd(fd), static_cast<char*>(buffer), length_of(length), 0));
}

ssize_t send_fd(int fd, const void* data, size_t length) {
  return posix_shaped<ssize_t>(::send(socket_of_fd(fd), static_cast<const char*>(data), length_of(length), 0));
}

ssize_t send_to_fd(int fd, const void* data, size_t length, const sockaddr* address, socklen_t address_length) {
  return posix_shaped<ssize_t>(
      ::sendto(socket_of_fd(fd), static_cast<const char*>(data), length_of(length), 0, address, address_length));
}

ssize_t recv_from_fd(int fd, void* buffer, size_t length, sockaddr* address, socklen_t* address_length) {
  return posix_shaped<ssize_t>(
      ::recvfrom(socket_of_fd(fd), static_cast<char*>(buffer), length_of(length), 0, address, address_length));
}

int connect_fd(int fd, const sockaddr* address, socklen_t address_length) {
  return connect_nonblocking(fd, address, address_length);
}

int bind_fd(int fd, const sockaddr* address, socklen_t address_length) {
  return posix_shaped<int>(::bind(socket_of_fd(fd), address, address_length));
}

int listen_on_fd(int fd, int backlog) { return posix_shaped<int>(::listen(socket_of_fd(fd), backlog)); }

int shutdown_write_fd(int fd) { return posix_shaped<int>(::shutdown(socket_of_fd(fd), SD_SEND)); }

int get_option_fd(int fd, int level, int name, int* value) {
  int length = sizeof *value;
  return posix_shaped<int>(::getsockopt(socket_of_fd(fd), level, name, reinterpret_cast<char*>(value), &length));
}

int set_option_fd(int fd, int level, int name, int value) {
  return posix_shaped<int>(
      ::setsockopt(socket_of_fd(fd), level, name, reinterpret_cast<const char*>(&value), sizeof value));
}

int socket_name_fd(int fd, bool peer, sockaddr* address, socklen_t* address_length) {
  const SOCKET socket = socket_of_fd(fd);
  return posix_shaped<int>(peer ? ::getpeername(socket, address, address_length)
                                : ::getsockname(socket, address, address_length));
}

int pending_error_fd(int fd, int* errno_value) {
  int code = 0;
  if (get_option_fd(fd, SOL_SOCKET, SO_ERROR, &code) < 0) return -1;
  *errno_value = Error::from_windows(static_cast<unsigned long>(code)).value();
  return 0;
}

}  // namespace emio::detail
