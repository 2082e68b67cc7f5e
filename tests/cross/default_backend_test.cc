// SPDX-License-Identifier: MIT
// What EMIO_BACKEND=auto compiles in on each ARM target (cmake/backend.cmake). 32-bit ARM kernels have
// had io_uring regressions (libuv#4158, Raspberry Pi), so there io_uring is only an explicit choice.
// Registered only for cross builds configured with EMIO_BACKEND=auto.
#include "emio/driver/driver.h"
#include "support/check.h"

TEST_GROUP(DefaultBackend){};

#if defined(__arm__)  // 32-bit ARM (armhf, armel); GCC defines __aarch64__ instead on 64-bit ARM

TEST(DefaultBackend, AutoOn32BitArmCompilesEpollOnly) {
  CHECK_FALSE(emio::backend_choice_compiled_in(emio::BackendChoice::uring));
  emio::Driver driver;
  CHECK_OK(driver.init(emio::DriverConfig{.registration_capacity = 8, .event_capacity = 8}));
  STRCMP_EQUAL("epoll", driver.backend_name());
}

#else

TEST(DefaultBackend, AutoOn64BitArmCompilesIoUringWhenTheSysrootHasLiburing) {
  CHECK_EQUAL(static_cast<bool>(EMIO_TEST_LIBURING_FOUND),
              emio::backend_choice_compiled_in(emio::BackendChoice::uring));
}

#endif
