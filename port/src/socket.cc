// SPDX-License-Identifier: MIT
#include "emio/port/socket.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "emio/port/fd.h"

namespace emio {

#if defined(SOCK_NONBLOCK) && defined(SOCK_CLOEXEC) && !defined(SO_NOSIGPIPE)

int socket_nonblocking(int family, int type, int protocol) {
  return ::socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, protocol);
}

int socketpair_nonblocking(int family, int type, int ends[2]) {
  return ::socketpair(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, ends);
}

int accept_nonblocking(int listener, sockaddr* address, socklen_t* address_length) {
  return ::accept4(listener, address, address_length, SOCK_NONBLOCK | SOCK_CLOEXEC);
}

int pipe_nonblocking(int ends[2]) { return ::pipe2(ends, O_NONBLOCK | O_CLOEXEC); }

#else  // macOS: no SOCK_NONBLOCK, SOCK_CLOEXEC, accept4 or pipe2; SO_NOSIGPIPE instead of MSG_NOSIGNAL

namespace {

// What the creating call could not do: fcntl after it (a fork-exec on another thread in between may
// inherit the fd, a known limit of these systems), and no SIGPIPE on a socket.
Error prepare(int fd, bool is_socket) {
  if (Error error = set_nonblocking(fd); error.failed()) return error;
  const int on = 1;
  if (is_socket && ::setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &on, sizeof on) < 0) return Error::last_os_error();
  return Error{};
}

// The system call's shape again: the fds closed and errno set when preparing one failed.
int adopt(int result, const int* fds, int count, bool is_socket) {
  if (result < 0) return result;
  Error error{};
  for (int i = 0; i < count && error.ok(); ++i) error = prepare(fds[i], is_socket);
  if (error.ok()) return result;
  for (int i = 0; i < count; ++i) (void)::close(fds[i]);
  errno = error.value();
  return -1;
}

}  // namespace

int socket_nonblocking(int family, int type, int protocol) {
  const int fd = ::socket(family, type, protocol);
  return adopt(fd, &fd, 1, true);
}

int socketpair_nonblocking(int family, int type, int ends[2]) {
  return adopt(::socketpair(family, type, 0, ends), ends, 2, true);
}

int accept_nonblocking(int listener, sockaddr* address, socklen_t* address_length) {
  const int fd = ::accept(listener, address, address_length);
  return adopt(fd, &fd, 1, true);
}

int pipe_nonblocking(int ends[2]) { return adopt(::pipe(ends), ends, 2, false); }

#endif

}  // namespace emio
