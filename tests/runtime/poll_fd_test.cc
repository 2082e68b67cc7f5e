// SPDX-License-Identifier: MIT
// PollFd: any pollable fd (a timerfd here), what the driver refuses, and deregistration on close.
#include <fcntl.h>
#include <sys/socket.h>
#if defined(__linux__)
#include <sys/timerfd.h>  // Linux only: macOS and the BSDs have no timerfd (kqueue has EVFILT_TIMER)
#endif
#include <unistd.h>

#include <cstdio>
#include <cstring>

#include "emio/runtime/runtime.h"
#include "runtime/runtime_fixture.h"
#include "support/check.h"
#include "support/sockets.h"

using emio::Error;
using emio::PollFd;
using emio::Result;

namespace {

#if defined(__linux__)
emio::Task<> read_expirations(PollFd& timer, uint64_t& expirations, Error& outcome) {
  std::byte buffer[sizeof(uint64_t)];
  Result<size_t> got = co_await timer.read(buffer);
  outcome = got.ok() ? Error{} : got.error();
  if (got.ok()) std::memcpy(&expirations, buffer, sizeof expirations);
}
#endif

}  // namespace

TEST_GROUP(PollFd) {
  emio::Executor executor;
  void setup() override { CHECK_OK(executor.init(emio_test::executor_config(2))); }
};

#if defined(__linux__)
TEST(PollFd, TimerfdBecomesReadableWhenItExpires) {
  emio::Fd timer_fd(::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC));
  CHECK(timer_fd.valid());
  const itimerspec once{{0, 0}, {0, 2000000}};  // 2 ms
  CHECK_EQUAL(0, ::timerfd_settime(timer_fd.get(), 0, &once, nullptr));
  PollFd timer = REQUIRE_TAKE(PollFd::adopt(executor.handle(), std::move(timer_fd), emio::Interest::readable));
  uint64_t expirations = 0;
  Error outcome = Error::shut_down;
  Result<emio::TaskId> task = executor.spawn(read_expirations(timer, expirations, outcome));
  emio_test::run_to_completion(executor, task);
  CHECK_OK(outcome);
  CHECK_EQUAL(1u, expirations);
}
#endif

TEST(PollFd, RegularFileIsRefused) {
  char path[] = "/tmp/emio-pollfd-XXXXXX";
  emio::Fd file(::mkstemp(path));
  CHECK(file.valid());
  CHECK_EQUAL(0, ::unlink(path));
  CHECK_ERROR(emio::Error::from_errno(EPERM), PollFd::adopt(executor.handle(), std::move(file)).error());
}

TEST(PollFd, InvalidFdIsRefused) {
  CHECK_ERROR(emio::Error::from_errno(EBADF), PollFd::adopt(executor.handle(), emio::Fd()).error());
}

TEST(PollFd, CloseDeregistersTheSource) {
  auto pipe = emio_test::make_pipe();
  const uint32_t before = executor.driver().live_registrations();
  PollFd source = REQUIRE_TAKE(PollFd::adopt(executor.handle(), std::move(pipe.first), emio::Interest::readable));
  CHECK_EQUAL(before + 1, executor.driver().live_registrations());
  CHECK_OK(source.close());
  CHECK_EQUAL(before, executor.driver().live_registrations());
  CHECK_FALSE(source.is_open());
}

// Regression: try_read/try_write dereferenced the cleared registration (found by review).
TEST(PollFd, TryReadAndTryWriteAfterCloseAreStaleToken) {
  auto pipe = emio_test::make_pipe();
  PollFd source = REQUIRE_TAKE(PollFd::adopt(executor.handle(), std::move(pipe.first), emio::Interest::readable));
  CHECK_OK(source.close());
  std::byte buffer[4]{};
  CHECK_ERROR(Error::stale_token, source.try_read(buffer).error());
  CHECK_ERROR(Error::stale_token, source.try_write(buffer).error());
}

TEST(PollFd, TryReadOnANeverOpenedSourceIsStaleToken) {
  PollFd never_opened;
  std::byte buffer[4]{};
  CHECK_ERROR(Error::stale_token, never_opened.try_read(buffer).error());
}

TEST(PollFd, AdoptMakesTheFdNonBlocking) {
  int ends[2];
  CHECK_EQUAL(0, ::pipe(ends));  // blocking on purpose
  emio::Fd write_end(ends[1]);
  PollFd source = REQUIRE_TAKE(PollFd::adopt(executor.handle(), emio::Fd(ends[0]), emio::Interest::readable));
  CHECK(::fcntl(source.fd(), F_GETFL) & O_NONBLOCK);
  std::byte buffer[4];
  CHECK_ERROR(emio::would_block, source.try_read(buffer).error());
}

TEST(PollFd, MessageSourceKeepsReadinessAfterAShortRead) {
  // A datagram socket stands in for netlink or SocketCAN: one read returns one message, short or not.
  auto pair = emio_test::make_socketpair(SOCK_DGRAM);
  PollFd source = REQUIRE_TAKE(PollFd::adopt(executor.handle(), std::move(pair.first), emio::Interest::readable));
  CHECK_EQUAL(2, emio_test::write_bytes(pair.second.get(), 2));
  CHECK_EQUAL(2, emio_test::write_bytes(pair.second.get(), 2));
  auto readable = [&] { return source.io().readiness(emio::Direction::read).ready.is_readable(); };
  for (int round = 0; round < 1000 && !readable(); ++round) CHECK_OK(executor.run_once(100));
  std::byte buffer[8];
  CHECK_EQUAL(2u, REQUIRE_VALUE(source.try_read(buffer)));
  CHECK(readable());  // the second message is still queued: clearing here would lose its wake-up
  CHECK_EQUAL(2u, REQUIRE_VALUE(source.try_read(buffer)));
}
