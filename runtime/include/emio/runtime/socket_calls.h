// SPDX-License-Identifier: MIT
// The system calls the shared IO resources make (poll_fd.cc, socket_ops.cc, stream.cc and stream.h, datagram.cc), in
// one shape on every system: a count or 0, or -1 with errno set. Off Windows they are the POSIX calls
// themselves, inline. On Windows (socket_calls_windows.cc) they are Winsock's, whose buffers are char*,
// whose lengths are int and whose errors come from WSAGetLastError(); a "read" of a source is a recv there,
// as IOCP polls sockets only. Also the headers of the constants they take (IPPROTO_TCP, TCP_NODELAY).
#pragma once

#include <sys/types.h>

#include <cstddef>

#include "emio/port/socket.h"

#if !defined(_WIN32)
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <unistd.h>
#endif

namespace emio::detail {

#if defined(_WIN32)
ssize_t read_fd(int fd, void* buffer, size_t length);
ssize_t write_fd(int fd, const void* data, size_t length);
ssize_t recv_fd(int fd, void* buffer, size_t length);
ssize_t send_fd(int fd, const void* data, size_t length);
ssize_t send_to_fd(int fd, const void* data, size_t length, const sockaddr* address, socklen_t address_length);
ssize_t recv_from_fd(int fd, void* buffer, size_t length, sockaddr* address, socklen_t* address_length);
// EINPROGRESS for a connect under way, as POSIX says it.
int connect_fd(int fd, const sockaddr* address, socklen_t address_length);
int bind_fd(int fd, const sockaddr* address, socklen_t address_length);
int listen_on_fd(int fd, int backlog);
int shutdown_write_fd(int fd);
int get_option_fd(int fd, int level, int name, int* value);
int set_option_fd(int fd, int level, int name, int value);
int socket_name_fd(int fd, bool peer, sockaddr* address, socklen_t* address_length);
// SO_ERROR, read and cleared: a Winsock code there, made an errno value here.
int pending_error_fd(int fd, int* errno_value);
// What a listener sets so that a restarted daemon rebinds at once. SO_REUSEADDR on Windows would let
// another socket bind the same port and steal connections; there a listener in TIME_WAIT's way does not
// stop a bind anyway, and SO_EXCLUSIVEADDRUSE keeps other sockets off the port (Microsoft, "Using
// SO_REUSEADDR and SO_EXCLUSIVEADDRUSE").
inline constexpr int listener_address_option = SO_EXCLUSIVEADDRUSE;
#else
inline ssize_t read_fd(int fd, void* buffer, size_t length) { return ::read(fd, buffer, length); }
inline ssize_t write_fd(int fd, const void* data, size_t length) { return ::write(fd, data, length); }
inline ssize_t recv_fd(int fd, void* buffer, size_t length) { return ::recv(fd, buffer, length, 0); }
inline ssize_t send_fd(int fd, const void* data, size_t length) {
  return ::send(fd, data, length, send_flags_no_sigpipe);
}
inline ssize_t send_to_fd(int fd, const void* data, size_t length, const sockaddr* address, socklen_t address_length) {
  return ::sendto(fd, data, length, send_flags_no_sigpipe, address, address_length);
}
inline ssize_t recv_from_fd(int fd, void* buffer, size_t length, sockaddr* address, socklen_t* address_length) {
  return ::recvfrom(fd, buffer, length, 0, address, address_length);
}
inline int connect_fd(int fd, const sockaddr* address, socklen_t address_length) {
  return ::connect(fd, address, address_length);
}
inline int bind_fd(int fd, const sockaddr* address, socklen_t address_length) {
  return ::bind(fd, address, address_length);
}
inline int listen_on_fd(int fd, int backlog) { return ::listen(fd, backlog); }
inline int shutdown_write_fd(int fd) { return ::shutdown(fd, SHUT_WR); }
inline int get_option_fd(int fd, int level, int name, int* value) {
  socklen_t length = sizeof *value;
  return ::getsockopt(fd, level, name, value, &length);
}
inline int set_option_fd(int fd, int level, int name, int value) {
  return ::setsockopt(fd, level, name, &value, sizeof value);
}
inline int socket_name_fd(int fd, bool peer, sockaddr* address, socklen_t* address_length) {
  return peer ? ::getpeername(fd, address, address_length) : ::getsockname(fd, address, address_length);
}
inline int pending_error_fd(int fd, int* errno_value) { return get_option_fd(fd, SOL_SOCKET, SO_ERROR, errno_value); }
// A restarted daemon rebinds at once despite connections in TIME_WAIT.
inline constexpr int listener_address_option = SO_REUSEADDR;
#endif

}  // namespace emio::detail
