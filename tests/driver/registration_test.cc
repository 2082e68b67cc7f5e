// SPDX-License-Identifier: MIT
// Adding and removing sources through the Handle, and the rollback of every failure.

#include "emio/driver/driver.h"
#include "support/check.h"
#include "support/driver_fixture.h"
#include "support/sockets.h"

using emio::Interest;

TEST_GROUP(Registration) {
  emio::Driver driver;
  void setup() override { CHECK_OK(driver.init(emio_test::driver_config(4))); }
};

TEST(Registration, AddThenDeregisterLeavesNoSlotInUse) {
  auto pipe = emio_test::make_pipe();
  auto added = driver.handle().add_source(pipe.first.get(), Interest::readable);
  CHECK(added.ok());
  CHECK_EQUAL(1u, driver.live_registrations());
  CHECK_OK(driver.handle().deregister(added.value()));
  CHECK_EQUAL(0u, driver.live_registrations());
}

TEST(Registration, ClosedFdIsRefusedAndLeaksNoSlot) {
  auto pipe = emio_test::make_pipe();
  const int closed = pipe.first.release();
  emio_test::close_raw(closed);
  auto added = driver.handle().add_source(closed, Interest::readable);
  CHECK_ERROR(emio::Error::from_errno(EBADF), added.error());
  CHECK_EQUAL(0u, driver.live_registrations());
}

TEST(Registration, SameFdTwiceIsRefusedAndTheFirstStaysRegistered) {
  auto pipe = emio_test::make_pipe();
  auto first = driver.handle().add_source(pipe.first.get(), Interest::readable);
  CHECK(first.ok());
  auto second = driver.handle().add_source(pipe.first.get(), Interest::readable);
  CHECK_ERROR(emio::Error::from_errno(EEXIST), second.error());
  CHECK_EQUAL(1u, driver.live_registrations());
  CHECK_EQUAL(1, emio_test::write_bytes(pipe.second.get(), 1));
  CHECK_EQUAL(1u, REQUIRE_VALUE(driver.turn(0)));
  CHECK(first.value().io->readiness(emio::Direction::read).ready.is_readable());
}

TEST(Registration, FullArenaSaysSoAndRecoversWhenASlotFrees) {
  emio_test::FdPair pipes[5];
  emio::Registration registrations[4];
  for (int i = 0; i < 4; ++i) {
    pipes[i] = emio_test::make_pipe();
    auto added = driver.handle().add_source(pipes[i].first.get(), Interest::readable);
    registrations[i] = REQUIRE_VALUE(added);
  }
  pipes[4] = emio_test::make_pipe();
  auto refused = driver.handle().add_source(pipes[4].first.get(), Interest::readable);
  CHECK_ERROR(emio::Error::registrations_full, refused.error());
  CHECK_OK(driver.handle().deregister(registrations[2]));
  auto accepted = driver.handle().add_source(pipes[4].first.get(), Interest::readable);
  CHECK(accepted.ok());
}

TEST(Registration, DeregisterAfterCloseReportsTheOsErrorButFreesTheSlot) {
  auto pipe = emio_test::make_pipe();
  auto added = driver.handle().add_source(pipe.first.get(), Interest::readable);
  CHECK(added.ok());
  pipe.first.reset();  // closed before deregister: the mistake the slot must survive
  CHECK_ERROR(emio::Error::from_errno(EBADF), driver.handle().deregister(added.value()));
  CHECK_EQUAL(0u, driver.live_registrations());
}

TEST(Registration, DeregisterTwiceSaysStaleToken) {
  auto pipe = emio_test::make_pipe();
  auto added = driver.handle().add_source(pipe.first.get(), Interest::readable);
  CHECK_OK(driver.handle().deregister(added.value()));
  CHECK_ERROR(emio::Error::stale_token, driver.handle().deregister(added.value()));
}

TEST(Registration, RegularFilesAreRefusedByEpoll) {
  emio::Fd file = emio_test::make_regular_file();
  auto added = driver.handle().add_source(file.get(), Interest::readable);
  CHECK_ERROR(emio::Error::from_errno(EPERM), added.error());
  CHECK_EQUAL(0u, driver.live_registrations());
}

TEST(Registration, DriverOnStaticStorageWorksAndAllocatesNothing) {
  static emio::DriverStorage<8, 4> storage;
  emio::Driver static_driver;
  CHECK_OK(static_driver.init(storage.config()));
  CHECK_EQUAL(8u, static_driver.registration_capacity());
  auto pipe = emio_test::make_pipe();
  auto added = static_driver.handle().add_source(pipe.first.get(), Interest::readable);
  CHECK(added.ok());
  CHECK_EQUAL(1, emio_test::write_bytes(pipe.second.get(), 1));
  CHECK_EQUAL(1u, REQUIRE_VALUE(static_driver.turn(0)));
}

TEST(Registration, InitTwiceIsRefused) {
  CHECK_ERROR(emio::Error::from_errno(EALREADY), driver.init(emio_test::driver_config()));
}

TEST(Registration, InvalidReceiveBufferOptionsAreRefusedNotTakenForAMissingKernelFeature) {
  emio::Driver other;
  emio::DriverConfig config = emio_test::driver_config();
  config.receive_buffers = {3, 64};  // the buffer ring needs a power of two
  CHECK_ERROR(emio::Error::from_errno(EINVAL), other.init(config));
  CHECK(other.fallback_reason().ok());
}
