// SPDX-License-Identifier: MIT
// Shutdown: every waiter is woken and sees it; later registrations and turns fail clearly.
#include "emio/driver/driver.h"
#include "support/check.h"
#include "support/driver_fixture.h"
#include "support/sockets.h"

using emio::Direction;
using emio::Interest;
using emio::Registration;

TEST_GROUP(Shutdown) {
  emio_test::FdPair pipes[3];
  emio_test::CountingWaker readers[3];
  emio_test::CountingWaker writers[3];
  Registration registrations[3];

  void wait_on_all(emio::Driver & driver) {
    for (int i = 0; i < 3; ++i) {
      pipes[i] = emio_test::make_pipe();
      registrations[i] = REQUIRE_VALUE(driver.handle().add_source(pipes[i].first.get(), Interest::readable));
      CHECK_FALSE(registrations[i].io->poll_ready(Direction::read, readers[i].waker()).is_ready());
    }
  }
};

TEST(Shutdown, ShutdownWakesEveryWaiterWhoThenSeesIt) {
  emio::Driver driver;
  CHECK_OK(driver.init(emio_test::driver_config(8)));
  wait_on_all(driver);
  driver.shutdown();
  for (int i = 0; i < 3; ++i) {
    CHECK_EQUAL(1, readers[i].calls.load());
    CHECK(registrations[i].io->readiness(Direction::read).shut_down);
    CHECK(registrations[i].io->poll_ready(Direction::write, writers[i].waker()).is_ready());
  }
}

TEST(Shutdown, AfterShutdownAddSourceAndTurnFail) {
  emio::Driver driver;
  CHECK_OK(driver.init(emio_test::driver_config(8)));
  driver.shutdown();
  auto pipe = emio_test::make_pipe();
  CHECK_ERROR(emio::Error::shut_down, driver.handle().add_source(pipe.first.get(), Interest::readable).error());
  CHECK_ERROR(emio::Error::shut_down, driver.turn(0).error());
}

TEST(Shutdown, DeregisterStillWorksAfterShutdown) {
  emio::Driver driver;
  CHECK_OK(driver.init(emio_test::driver_config(8)));
  wait_on_all(driver);
  driver.shutdown();
  for (const Registration& registration : registrations) CHECK_OK(driver.handle().deregister(registration));
  CHECK_EQUAL(0u, driver.live_registrations());
}

TEST(Shutdown, DestroyingTheDriverWakesEveryWaiter) {
  {
    emio::Driver driver;
    CHECK_OK(driver.init(emio_test::driver_config(8)));
    wait_on_all(driver);
  }
  for (const emio_test::CountingWaker& reader : readers) CHECK_EQUAL(1, reader.calls.load());
}

TEST(Shutdown, ShutdownTwiceWakesOnce) {
  emio::Driver driver;
  CHECK_OK(driver.init(emio_test::driver_config(8)));
  wait_on_all(driver);
  driver.shutdown();
  driver.shutdown();
  CHECK_EQUAL(1, readers[0].calls.load());
}
