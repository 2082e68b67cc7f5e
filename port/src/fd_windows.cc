// SPDX-License-Identifier: MIT
// Fd on Windows: the sources the driver watches are sockets, carried as ints (port/socket.h); any other
// handle (a file, in the tests) is closed with CloseHandle.
#include <cerrno>

#include "emio/port/fd.h"
#include "emio/port/socket.h"

namespace emio {
namespace {

HANDLE handle_of_fd(int fd) { return reinterpret_cast<HANDLE>(static_cast<intptr_t>(fd)); }  // NOLINT

bool is_socket(int fd) {
  int type = 0;
  int length = sizeof type;
  return ::getsockopt(socket_of_fd(fd), SOL_SOCKET, SO_TYPE, reinterpret_cast<char*>(&type), &length) == 0;
}

}  // namespace

void Fd::reset(int raw) {
  if (raw_ >= 0 && ::closesocket(socket_of_fd(raw_)) == SOCKET_ERROR) (void)::CloseHandle(handle_of_fd(raw_));
  raw_ = raw;
}

Error set_nonblocking(int fd) {
  u_long on = 1;
  if (::ioctlsocket(socket_of_fd(fd), FIONBIO, &on) == SOCKET_ERROR) return Error::last_socket_error();
  // As FD_CLOEXEC: a child process must not inherit the socket.
  if (::SetHandleInformation(handle_of_fd(fd), HANDLE_FLAG_INHERIT, 0) == 0) return Error::last_windows_error();
  return Error{};
}

Result<int> fit_under_fd_limit(int fd) { return fd; }

Error check_fd_free_under_limit(int) { return Error{}; }

Result<FileIdentity> file_identity(int fd) {
  FileIdentity identity;
  if (is_socket(fd)) {
    // A socket has no inode: its handle value is all there is. So a handle closed without deregister and
    // reused by a new socket looks like the same one (docs/design.md, "Windows", lists the limit).
    identity.value = static_cast<uint64_t>(static_cast<uint32_t>(fd));
    return identity;
  }
  // Not a socket: a file (always ready, refused with EPERM as on epoll), else no open handle at all.
  // GetFileType says FILE_TYPE_UNKNOWN with an error for a closed handle.
  const DWORD type = ::GetFileType(handle_of_fd(fd));
  if (type == FILE_TYPE_UNKNOWN && ::GetLastError() != NO_ERROR) return Error::from_errno(EBADF);
  identity.always_ready = type == FILE_TYPE_DISK;
  if (!identity.always_ready) return Error::from_errno(EBADF);  // a pipe or console: AFD cannot poll it
  return identity;
}

}  // namespace emio
