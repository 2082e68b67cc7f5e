// SPDX-License-Identifier: MIT
// The Handle is what every thread uses to reach the driver: add and remove sources, and wake it.
// A Handle is a pointer to its Driver: copy it freely, and keep the Driver alive longer than any copy.
// One used after its Driver was destroyed (an IO resource that outlived its Executor) is caught: a debug
// build stops on an assert that says so, a release build logs one line and the call does nothing
// (deregister returns Error::shut_down). See driver_registry.h.
#pragma once

#include "emio/driver/driver_registry.h"
#include "emio/driver/interest.h"
#include "emio/driver/registration.h"
#include "emio/port/error.h"
#include "emio/port/result.h"

namespace emio {

class Driver;

class Handle {
 public:
  Handle() = default;
  Handle(Driver* driver, driver_registry::Instance instance) : driver_(driver), instance_(instance) {}

  // Registers a non-blocking `fd`. On any failure nothing is left behind (no slot, no OS registration).
  // Errors: registrations_full, shut_down, or the OS's (EBADF for a closed fd, EEXIST if already added,
  // EPERM for a regular file, which epoll cannot watch).
  Result<Registration> add_source(int fd, Interest interest) const;
  // Stops watching and frees the slot, in that order; call it before closing the fd. The slot is freed
  // even when the OS call fails (EBADF, ENOENT: the fd was closed first), and that error is returned
  // for the record. stale_token if the registration was already removed. Stored wakers are dropped.
  Error deregister(Registration registration) const;
  // Wakes a turn that sleeps, or makes the next turn return at once. Any thread; many wakes between two
  // turns make one system call.
  void wake() const;

  bool valid() const { return driver_ != nullptr; }
  // False, after saying so (the assert, or the log line, above), when the driver is gone. Also for what
  // the driver's owner keeps beside it (a native stream's record, runtime/native_stream.h).
  bool driver_alive(const char* call) const;

 private:
  Driver* driver_ = nullptr;
  driver_registry::Instance instance_ = 0;
};

}  // namespace emio
