// SPDX-License-Identifier: MIT
// The io_uring faults' guard: they have nothing to reach where the driver does not run io_uring (an
// epoll pass, a kqueue build, qemu-user refusing io_uring_setup with ENOSYS), and such a test says so.
#pragma once

#include <CppUTest/TestHarness.h>

#include <cstring>

#include "emio/driver/driver.h"

namespace emio_fault_test {

// Ends the test, with the reason in verbose output, unless `driver` runs io_uring.
inline void skip_unless_uring_runs(emio::Driver& driver) {
  const char* backend = driver.backend_name();
  if (std::strcmp(backend, "uring") == 0) return;
  UT_PRINT(StringFromFormat("skipped: io_uring faults, and this driver runs %s", backend));
  TEST_EXIT;
}

}  // namespace emio_fault_test
