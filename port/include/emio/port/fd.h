// SPDX-License-Identifier: MIT
// An owning file descriptor: closed exactly once, when its owner goes away.
#pragma once

#include <cstdint>

#include "emio/port/error.h"
#include "emio/port/result.h"

namespace emio {

class Fd {
 public:
  Fd() = default;
  explicit Fd(int raw) : raw_(raw) {}
  Fd(Fd&& other) noexcept : raw_(other.release()) {}
  Fd& operator=(Fd&& other) noexcept {
    if (this != &other) reset(other.release());
    return *this;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { reset(); }

  int get() const { return raw_; }
  bool valid() const { return raw_ >= 0; }
  // Gives up ownership without closing.
  int release() {
    const int raw = raw_;
    raw_ = -1;
    return raw;
  }
  // Closes the current descriptor (if any) and owns `raw` instead.
  void reset(int raw = -1);

 private:
  int raw_ = -1;
};

// Makes an fd non-blocking and close-on-exec, as every fd the driver watches must be.
Error set_nonblocking(int fd);

// `fd` under the process's open file limit as it is now (RLIMIT_NOFILE, which may have been lowered since
// the kernel handed `fd` out): `fd` itself when below it, else the lowest free number (`fd` closed), or
// EMFILE with `fd` left open when no number under the limit is free, as accept4 or open would fail then.
// Windows has no such limit: `fd`.
Result<int> fit_under_fd_limit(int fd);
// EMFILE when no number is free under the open file limit as it is now, as accept4 or open would fail
// then (probed with a duplicate of `open_fd`, closed at once). Windows has no such limit: no error.
Error check_fd_free_under_limit(int open_fd);

// What an fd number names now: the open file's device and inode in one number (fstat), so that a number
// closed and reused for another file is told apart. Files on one anonymous inode (eventfd, timerfd,
// signalfd on Linux) all share one identity. Also says whether the file is a regular file or a
// directory, which readiness pollers refuse. EBADF for a closed fd.
struct FileIdentity {
  uint64_t value = 0;
  bool always_ready = false;  // a regular file or a directory
};
Result<FileIdentity> file_identity(int fd);

}  // namespace emio
