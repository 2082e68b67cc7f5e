// SPDX-License-Identifier: MIT
// Sockets on Windows in the shape port/socket.h gives them everywhere: non-blocking (FIONBIO),
// not inherited by child processes, errors as errno values.
#include <cerrno>

#include "emio/port/fd.h"
#include "emio/port/socket.h"

namespace emio {
namespace {

// The POSIX shape: -1 with errno set to the Winsock error's errno twin.
int failed_with(Error error) {
  errno = error.value();
  return -1;
}

int adopt(SOCKET socket) {
  if (socket == INVALID_SOCKET) return failed_with(Error::last_socket_error());
  const int fd = fd_of_socket(socket);
  if (Error error = set_nonblocking(fd); error.failed()) {
    (void)::closesocket(socket);
    return failed_with(error);
  }
  return fd;
}

}  // namespace

Error start_winsock() {
  // Once per process: a function-local static is initialised exactly once, also with threads.
  static const int started = [] {
    WSADATA data;
    return ::WSAStartup(MAKEWORD(2, 2), &data);
  }();
  return Error::from_windows(static_cast<unsigned long>(started));
}

int socket_nonblocking(int family, int type, int protocol) {
  if (Error error = start_winsock(); error.failed()) return failed_with(error);
  // WSA_FLAG_OVERLAPPED: the completion operations need it; WSA_FLAG_NO_HANDLE_INHERIT: as SOCK_CLOEXEC.
  return adopt(::WSASocketW(family, type, protocol, nullptr, 0, WSA_FLAG_OVERLAPPED | WSA_FLAG_NO_HANDLE_INHERIT));
}

// Winsock has no socketpair (nor a Unix-domain pair to make one from): UnixStream::pair and
// UnixDatagram::pair say so.
int socketpair_nonblocking(int, int, int*) { return failed_with(Error::from_errno(EAFNOSUPPORT)); }

int accept_nonblocking(int listener, sockaddr* address, socklen_t* address_length) {
  return adopt(::accept(socket_of_fd(listener), address, address_length));
}

long recv_some(int fd, void* buffer, size_t length) {
  const int got = ::recv(socket_of_fd(fd), static_cast<char*>(buffer), static_cast<int>(length), 0);
  return got == SOCKET_ERROR ? failed_with(Error::last_socket_error()) : got;
}

long send_some(int fd, const void* data, size_t length) {
  const int sent = ::send(socket_of_fd(fd), static_cast<const char*>(data), static_cast<int>(length), 0);
  return sent == SOCKET_ERROR ? failed_with(Error::last_socket_error()) : sent;
}

int connect_nonblocking(int fd, const sockaddr* address, socklen_t address_length) {
  if (::connect(socket_of_fd(fd), address, address_length) == 0) return 0;
  const Error error = Error::last_socket_error();
  // Winsock reports a connect under way as WSAEWOULDBLOCK, POSIX as EINPROGRESS.
  return failed_with(error == Error::from_errno(EWOULDBLOCK) ? Error::from_errno(EINPROGRESS) : error);
}

int close_socket(int fd) {
  return ::closesocket(socket_of_fd(fd)) == SOCKET_ERROR ? failed_with(Error::last_socket_error()) : 0;
}

}  // namespace emio
