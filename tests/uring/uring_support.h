// SPDX-License-Identifier: MIT
// Helpers for the io_uring-only tests: is io_uring usable here, and a driver config that asks for it.
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <string_view>

#include "emio/driver/driver.h"
#include "support/driver_fixture.h"

#include <CppUTest/TestHarness.h>

namespace emio_test {

inline emio::DriverConfig uring_config(emio::BackendChoice choice = emio::BackendChoice::uring,
                                       uint32_t registration_capacity = 64, uint32_t event_capacity = 64) {
  emio::DriverConfig config = driver_config(registration_capacity, event_capacity);
  config.backend = choice;
  return config;
}

// Runs `body` in a forked child (process-wide state such as the probe's verdict and the once-only log
// lines stays untouched here) and returns its exit code, or -1 if it did not exit.
template <typename Body>
int in_child(Body body) {
  const pid_t child = ::fork();
  if (child == 0) ::_exit(body());
  int status = 0;
  if (::waitpid(child, &status, 0) != child || !WIFEXITED(status)) return -1;
  return WEXITSTATUS(status);
}

// False where the kernel refuses io_uring (qemu-user says ENOSYS): the io_uring tests have nothing to
// test there, and the fallback is what the suite's other runs exercise.
inline bool uring_runs_here() {
  emio::Driver probe;
  return probe.init(uring_config(emio::BackendChoice::uring, 1, 1)).ok() &&
         std::string_view(probe.backend_name()) == "uring";
}

}  // namespace emio_test

// Ends the test (as passed) where io_uring cannot run, saying so in verbose output.
#define SKIP_WITHOUT_URING()                                             \
  do {                                                                   \
    if (!::emio_test::uring_runs_here()) {                               \
      UT_PRINT("io_uring refused by this kernel: nothing to test here"); \
      TEST_EXIT;                                                         \
    }                                                                    \
  } while (0)
