// SPDX-License-Identifier: MIT
#include "emio/port/fd.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <utility>

#include <CppUTest/TestHarness.h>

namespace {
bool is_open(int fd) { return ::fcntl(fd, F_GETFD) >= 0; }

int lowest_free_fd() {
  const int probe = ::dup(STDERR_FILENO);
  ::close(probe);
  return probe;
}
}  // namespace

TEST_GROUP(Fd){};

TEST(Fd, ClosesWhenItGoesOutOfScope) {
  int raw = -1;
  {
    emio::Fd fd(::dup(STDERR_FILENO));
    raw = fd.get();
    CHECK(is_open(raw));
  }
  CHECK_FALSE(is_open(raw));
}

TEST(Fd, MoveTransfersOwnership) {
  emio::Fd first(::dup(STDERR_FILENO));
  const int raw = first.get();
  emio::Fd second(std::move(first));
  CHECK_FALSE(first.valid());  // NOLINT(bugprone-use-after-move): checking the moved-from state is the point
  CHECK_EQUAL(raw, second.get());
  CHECK(is_open(raw));
}

TEST(Fd, ReleaseGivesUpWithoutClosing) {
  emio::Fd fd(::dup(STDERR_FILENO));
  const int raw = fd.release();
  CHECK(is_open(raw));
  ::close(raw);
}

TEST(Fd, SetNonblockingSetsBothFlags) {
  emio::Fd fd(::dup(STDERR_FILENO));
  CHECK(emio::set_nonblocking(fd.get()).ok());
  CHECK(::fcntl(fd.get(), F_GETFL) & O_NONBLOCK);
  CHECK(::fcntl(fd.get(), F_GETFD) & FD_CLOEXEC);
}

TEST(Fd, SetNonblockingOnAClosedFdFails) { CHECK(emio::set_nonblocking(-1) == emio::Error::from_errno(EBADF)); }

// The soft RLIMIT_NOFILE lowered under fds already open (as prlimit does to a running daemon), and put
// back after each test: the fds past it stay open, and no new one may be past it.
TEST_GROUP(FdLimitNow) {
  rlimit saved{};
  emio::Fd past_the_limit;
  int lowest_free = -1;
  void setup() override {
    CHECK_EQUAL(0, ::getrlimit(RLIMIT_NOFILE, &saved));
    lowest_free = lowest_free_fd();
    past_the_limit = emio::Fd(::fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, lowest_free + 8));
    CHECK(past_the_limit.valid());
  }
  void teardown() override { CHECK_EQUAL(0, ::setrlimit(RLIMIT_NOFILE, &saved)); }
  void lower_soft_limit_to(int numbers) {
    rlimit lowered = saved;
    lowered.rlim_cur = static_cast<rlim_t>(numbers);
    CHECK_EQUAL(0, ::setrlimit(RLIMIT_NOFILE, &lowered));
  }
};

TEST(FdLimitNow, AnFdUnderTheLimitIsKeptAsItIs) {
  const emio::Result<int> fitted = emio::fit_under_fd_limit(past_the_limit.get());
  CHECK(fitted.ok());
  CHECK_EQUAL(past_the_limit.get(), fitted.value());
}

TEST(FdLimitNow, AnFdPastALoweredLimitMovesToTheLowestFreeNumberAndTheOldOneCloses) {
  const int old_number = past_the_limit.release();
  lower_soft_limit_to(lowest_free + 1);
  const emio::Result<int> fitted = emio::fit_under_fd_limit(old_number);
  CHECK(fitted.ok());
  const emio::Fd moved(fitted.value());
  CHECK_EQUAL(lowest_free, moved.get());
  CHECK(::fcntl(moved.get(), F_GETFD) & FD_CLOEXEC);
  CHECK_FALSE(is_open(old_number));
}

TEST(FdLimitNow, AnFdPastALoweredLimitWithNoNumberFreeUnderItIsEmfileAndStaysOpen) {
  lower_soft_limit_to(lowest_free);
  CHECK(emio::fit_under_fd_limit(past_the_limit.get()).error() == emio::Error::from_errno(EMFILE));
  CHECK(is_open(past_the_limit.get()));
}

TEST(FdLimitNow, TheCheckForAFreeNumberSaysEmfileWhenNoneIsUnderTheLimitAndLeavesNothingOpen) {
  lower_soft_limit_to(lowest_free);
  CHECK(emio::check_fd_free_under_limit(STDERR_FILENO) == emio::Error::from_errno(EMFILE));
  lower_soft_limit_to(lowest_free + 1);
  CHECK(emio::check_fd_free_under_limit(STDERR_FILENO).ok());
  CHECK_FALSE(is_open(lowest_free));
}
