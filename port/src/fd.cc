#include "emio/port/fd.h"

#include <fcntl.h>
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

}  // namespace emio
