// SPDX-License-Identifier: MIT
#include "emio/port/fd.h"

#include <fcntl.h>
#include <unistd.h>

#include <utility>

#include <CppUTest/TestHarness.h>

namespace {
bool is_open(int fd) { return ::fcntl(fd, F_GETFD) >= 0; }
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
