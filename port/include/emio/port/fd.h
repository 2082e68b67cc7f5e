// An owning file descriptor: closed exactly once, when its owner goes away.
#pragma once

#include "emio/port/error.h"

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

}  // namespace emio
