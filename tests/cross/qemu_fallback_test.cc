// SPDX-License-Identifier: MIT
// Under qemu-user an io_uring build runs epoll: qemu 7.2 has no io_uring_setup and answers ENOSYS,
// as a kernel built without CONFIG_IO_URING does. Only registered for cross builds run under qemu.
#include <linux/io_uring.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

#include "emio/driver/driver.h"
#include "support/check.h"
#include "support/sockets.h"

namespace {

emio::DriverConfig config_choosing(emio::BackendChoice choice) {
  emio::DriverConfig config;
  config.registration_capacity = 8;
  config.event_capacity = 8;
  config.backend = choice;
  return config;
}

}  // namespace

TEST_GROUP(QemuUringFallback){};

TEST(QemuUringFallback, QemuAnswersIoUringSetupWithEnosys) {
  io_uring_params params{};
  errno = 0;
  CHECK_EQUAL(-1L, ::syscall(__NR_io_uring_setup, 4, &params));
  CHECK_EQUAL(ENOSYS, errno);
}

TEST(QemuUringFallback, AnAutomaticChoiceRunsEpollBecauseOfEnosys) {
  emio::Driver driver;
  CHECK_OK(driver.init(config_choosing(emio::BackendChoice::automatic)));
  STRCMP_EQUAL("epoll", driver.backend_name());
  CHECK_ERROR(emio::Error::from_errno(ENOSYS), driver.fallback_reason());
}

TEST(QemuUringFallback, AnExplicitIoUringChoiceRunsEpollBecauseOfEnosys) {
  emio::Driver driver;
  CHECK_OK(driver.init(config_choosing(emio::BackendChoice::uring)));
  STRCMP_EQUAL("epoll", driver.backend_name());
  CHECK_ERROR(emio::Error::from_errno(ENOSYS), driver.fallback_reason());
}

TEST(QemuUringFallback, TheFallenBackDriverDeliversReadiness) {
  emio::Driver driver;
  CHECK_OK(driver.init(config_choosing(emio::BackendChoice::automatic)));
  auto pipe = emio_test::make_pipe();
  emio::Registration reader = REQUIRE_VALUE(driver.handle().add_source(pipe.first.get(), emio::Interest::readable));
  CHECK_EQUAL(1, emio_test::write_bytes(pipe.second.get(), 1));
  CHECK_EQUAL(1u, REQUIRE_VALUE(driver.turn(0)));
  CHECK(reader.io->readiness(emio::Direction::read).ready.is_readable());
}
