// SPDX-License-Identifier: MIT
// A driver's life at its edges: init that fails late and is retried, a wake before init, and a source
// whose fd was closed without deregister and whose number came back for another file.
#if defined(_WIN32)
#include <windows.h>
#else
#include <dirent.h>
#include <unistd.h>  // dup2: glibc brings it through other headers, macOS does not
#endif

#include "emio/driver/driver.h"
#include "support/check.h"
#include "support/driver_fixture.h"
#include "support/sockets.h"

#include <CppUTest/TestHarness.h>

namespace {

int open_fd_count() {
#if defined(_WIN32)
  DWORD handles = 0;  // sockets, the completion port, the AFD handles: all handles of the process
  return ::GetProcessHandleCount(::GetCurrentProcess(), &handles) != 0 ? static_cast<int>(handles) : -1;
#else
  int count = 0;
  // The open fds are listed in /proc/self/fd on Linux, /dev/fd on macOS and the BSDs.
#if defined(__linux__)
  DIR* directory = ::opendir("/proc/self/fd");
#else
  DIR* directory = ::opendir("/dev/fd");
#endif
  if (directory == nullptr) return -1;
  while (const dirent* entry = ::readdir(directory)) count += entry->d_name[0] != '.' ? 1 : 0;
  ::closedir(directory);
  return count;
#endif
}

// Turns until `io` reports its read direction ready, or a bounded number of turns passed.
bool turn_until_readable(emio::Driver& driver, emio::ScheduledIo& io) {
  for (int turn = 0; turn < 50; ++turn) {
    if (io.readiness(emio::Direction::read).ready.is_readable()) return true;
    if (!driver.turn(100).ok()) return false;
  }
  return io.readiness(emio::Direction::read).ready.is_readable();
}

}  // namespace

TEST_GROUP(InitRollback){};

TEST(InitRollback, InitThatFailsLateLeavesNothingOpenAndCanBeRetried) {
  emio::Driver driver;
  emio::DriverConfig refused = emio_test::driver_config(8, 8);
  refused.operation_capacity = 0;  // refused by the last step, after the backend and wake event opened
  // libkqueue frees a closed kqueue's own fds (its epoll instance, an eventfd per filter) later, on its
  // monitoring thread; a BSD kqueue is one fd, gone at close(). There, count once the count settled.
  const auto fd_count = [] { return emio_test::on_libkqueue ? emio_test::settled_fd_count() : open_fd_count(); };
  const int fds_before = fd_count();
  CHECK_ERROR(emio::Error::no_storage, driver.init(refused));
  CHECK_EQUAL(fds_before, fd_count());
  CHECK_OK(driver.init(emio_test::driver_config(8, 8)));
  emio_test::FdPair pair = emio_test::make_socketpair(SOCK_STREAM);
  auto added = driver.handle().add_source(pair.first.get(), emio::Interest::readable);
  CHECK(added.ok());
  CHECK_EQUAL(1, emio_test::write_bytes(pair.second.get(), 1));
  CHECK(turn_until_readable(driver, *added.value().io));
}

TEST(InitRollback, SecondInitOfALiveDriverIsRefused) {
  emio::Driver driver;
  CHECK_OK(driver.init(emio_test::driver_config(8, 8)));
  CHECK_ERROR(emio::Error::from_errno(EALREADY), driver.init(emio_test::driver_config(8, 8)));
}

TEST(InitRollback, WakeBeforeInitMakesTheFirstTurnReturnAndLaterWakesStillSignal) {
  emio::Driver driver;
  driver.handle().wake();
  CHECK_OK(driver.init(emio_test::driver_config(8, 8)));
  CHECK(driver.turn(0).ok());
  CHECK_EQUAL(1u, driver.stats().wakes_received);
  // Before the fix the pending flag stayed set after init, and no wake ever signalled again.
  driver.handle().wake();
  CHECK(driver.turn(1000).ok());
  CHECK_EQUAL(2u, driver.stats().wakes_received);
}

TEST_GROUP(FdReuse) {
  emio::Driver driver;
  void setup() override { CHECK_OK(driver.init(emio_test::driver_config(16, 16))); }
};

// Windows cannot hand a chosen number to a new socket (no dup2), and a socket has no identity but its
// handle value: a reused number with the old registration live is refused (docs/design.md, "Windows").
#if !defined(_WIN32)
TEST(FdReuse, DeregisterAfterCloseDoesNotRemoveTheNewOwnerOfTheFdNumber) {
  emio_test::FdPair old_pair = emio_test::make_socketpair(SOCK_STREAM);
  const int number = old_pair.first.get();
  auto old_registration = driver.handle().add_source(number, emio::Interest::readable);
  CHECK(old_registration.ok());
  // The new pair first, so that its own fds never take the number; then the number, closed without a
  // deregister (a misuse the driver must survive), at once names another socket. (Between a close and a
  // later socketpair, libkqueue's own fds may take the freed number.)
  emio_test::FdPair new_pair = emio_test::make_socketpair(SOCK_STREAM);
  old_pair.first.reset();
  CHECK_EQUAL(number, ::dup2(new_pair.first.get(), number));
  emio::Fd reused(number);
  auto new_registration = driver.handle().add_source(number, emio::Interest::readable);
  CHECK(new_registration.ok());  // io_uring refused it with EEXIST before the fix

  // The old registration's file is gone: EBADF on every backend, and the new interest is untouched.
  CHECK_ERROR(emio::Error::from_errno(EBADF), driver.handle().deregister(old_registration.value()));
  CHECK_EQUAL(1, emio_test::write_bytes(new_pair.second.get(), 1));
  if (emio_test::on_libkqueue) {
    // libkqueue cannot see a close(): it still holds the old file as registered in its epoll under this
    // number, so it never hands the new file to epoll, and the new registration hears nothing (its
    // BUGS.md, "Linux": remove fds before closing them). A BSD kernel dropped the old filters at close().
    CHECK(driver.turn(100).ok());
    CHECK_FALSE(new_registration.value().io->readiness(emio::Direction::read).ready.is_readable());
    (void)driver.handle().deregister(new_registration.value());
    return;
  }
  CHECK(turn_until_readable(driver, *new_registration.value().io));
  CHECK_OK(driver.handle().deregister(new_registration.value()));
}
#endif

TEST(FdReuse, SecondRegistrationOfTheSameOpenFileIsRefusedWithEexist) {
  emio_test::FdPair pair = emio_test::make_socketpair(SOCK_STREAM);
  auto first = driver.handle().add_source(pair.first.get(), emio::Interest::readable);
  CHECK(first.ok());
  auto second = driver.handle().add_source(pair.first.get(), emio::Interest::readable);
  CHECK_FALSE(second.ok());
  CHECK_ERROR(emio::Error::from_errno(EEXIST), second.error());
  CHECK_EQUAL(1u, driver.live_registrations());
  CHECK_OK(driver.handle().deregister(first.value()));
}

TEST(FdReuse, ManyRegistrationsComeAndGoWithoutLosingAnyFdInTheIndex) {
  // The index is an open-addressing table with backward-shift deletion: churn it hard, then check that
  // every live fd still finds its registration (a duplicate is refused) and a removed one does not.
  emio_test::FdPair pairs[12];
  emio::Registration registrations[12];
  for (int round = 0; round < 20; ++round) {
    for (int i = 0; i < 12; ++i) {
      if ((i + round) % 3 == 0 && registrations[i].io != nullptr) {
        CHECK_OK(driver.handle().deregister(registrations[i]));
        registrations[i] = emio::Registration{};
      } else if (registrations[i].io == nullptr) {
        if (!pairs[i].first.valid()) pairs[i] = emio_test::make_socketpair(SOCK_STREAM);
        auto added = driver.handle().add_source(pairs[i].first.get(), emio::Interest::readable);
        CHECK(added.ok());
        registrations[i] = added.value();
      }
    }
    for (int i = 0; i < 12; ++i) {
      if (registrations[i].io == nullptr) continue;
      auto duplicate = driver.handle().add_source(pairs[i].first.get(), emio::Interest::readable);
      CHECK_FALSE(duplicate.ok());
      CHECK_ERROR(emio::Error::from_errno(EEXIST), duplicate.error());
    }
  }
}
