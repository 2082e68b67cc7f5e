// SPDX-License-Identifier: MIT
#include "emio/port/fd.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

namespace emio {

void Fd::reset(int raw) {
  // Never retry close() on EINTR: Linux has already released the descriptor, and a retry could close
  // one that another thread just opened.
  if (raw_ >= 0) (void)::close(raw_);
  raw_ = raw;
}

Error set_nonblocking(int fd) {
  const int status_flags = ::fcntl(fd, F_GETFL);
  if (status_flags < 0 || ::fcntl(fd, F_SETFL, status_flags | O_NONBLOCK) < 0) return Error::last_os_error();
  const int descriptor_flags = ::fcntl(fd, F_GETFD);
  if (descriptor_flags < 0 || ::fcntl(fd, F_SETFD, descriptor_flags | FD_CLOEXEC) < 0) {
    return Error::last_os_error();
  }
  return Error{};
}

Result<int> fit_under_fd_limit(int fd) {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return Error::last_os_error();
  if (static_cast<rlim_t>(fd) < limit.rlim_cur) return fd;
  const int lowest = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);  // the lowest free number; EMFILE if none is under the limit
  if (lowest < 0) return Error::last_os_error();
  (void)::close(fd);
  return lowest;
}

Error check_fd_free_under_limit(int open_fd) {
  const int probe = ::fcntl(open_fd, F_DUPFD_CLOEXEC, 0);
  if (probe < 0) return Error::last_os_error();
  (void)::close(probe);
  return Error{};
}

Result<FileIdentity> file_identity(int fd) {
  struct stat status {};
  if (::fstat(fd, &status) < 0) return Error::last_os_error();
  FileIdentity identity;
  // Mixed, not packed: both numbers may use all 64 bits. A collision only makes two files look alike,
  // which the driver treats as "the same file" (its old, conservative answer).
  identity.value = static_cast<uint64_t>(status.st_ino) * 0x9E3779B97F4A7C15u ^ static_cast<uint64_t>(status.st_dev);
  identity.always_ready = S_ISREG(status.st_mode) || S_ISDIR(status.st_mode);
  return identity;
}

}  // namespace emio
