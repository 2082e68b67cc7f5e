// SPDX-License-Identifier: MIT
// The systemd helpers against hostile environments: LISTEN_FDS past index 31, counted fds that were
// never passed, numbers systemd never writes, watchdog intervals beyond a timer's period. (Socket
// activation and notification end to end: tests/e2e, with systemd-socket-activate.)
#include <fcntl.h>
#ifdef __linux__
#include <sys/epoll.h>
#endif
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <string>

#include "emio/port/clock.h"
#include "emio/runtime/runtime.h"
#include "emio/runtime/systemd.h"
#include "runtime/runtime_fixture.h"
#include "support/check.h"

namespace {

// listen_fd takes each index once per process, and every test runs once per backend: each run asks
// for an index of its own, above 31 (the indexes a 32-bit mark missed).
uint32_t next_high_index = 32;

// Puts an open socket at fd `fd`, which must be free (a test must not clobber the process's own fds).
void place_socket_at(int fd) {
  CHECK_TEXT(::fcntl(fd, F_GETFD) < 0, "the fd a test passes is in use");
  int pair[2];
  CHECK_EQUAL(0, ::socketpair(AF_UNIX, SOCK_STREAM, 0, pair));
  CHECK_EQUAL(fd, ::dup2(pair[0], fd));
  ::close(pair[0]);
  ::close(pair[1]);
}

}  // namespace

TEST_GROUP(Systemd) {
  emio::Executor executor;
  emio::systemd::Watchdog watchdog;
  void setup() override {
    CHECK_EQUAL(0, ::setenv("LISTEN_PID", std::to_string(::getpid()).c_str(), 1));
    CHECK_OK(executor.init(emio_test::executor_config(4)));
  }
  void teardown() override {
    ::unsetenv("LISTEN_PID");
    ::unsetenv("LISTEN_FDS");
    ::unsetenv("WATCHDOG_USEC");
  }
  // Starts `watchdog` on `executor` as if systemd had set WATCHDOG_USEC to `interval_us`.
  void start_watchdog(const char* interval_us) {
    CHECK_EQUAL(0, ::setenv("WATCHDOG_USEC", interval_us, 1));
    CHECK_OK(watchdog.start(executor));
    CHECK(watchdog.running());
  }
};

TEST(Systemd, AListenFdAboveIndex31IsHandedOutOnce) {
  const uint32_t index = next_high_index++;
  const int fd = emio::systemd::first_listen_fd + static_cast<int>(index);
  CHECK_EQUAL(0, ::setenv("LISTEN_FDS", std::to_string(emio::systemd::max_listen_fds).c_str(), 1));
  place_socket_at(fd);
  emio::Fd first = emio::systemd::listen_fd(index);
  CHECK_EQUAL(fd, first.get());
  CHECK_FALSE(emio::systemd::listen_fd(index).valid());  // two owners would close it twice
}

TEST(Systemd, ACountedFdThatWasNeverPassedIsNotHandedOut) {
  const uint32_t index = next_high_index++;
  const int fd = emio::systemd::first_listen_fd + static_cast<int>(index);
  CHECK_EQUAL(0, ::setenv("LISTEN_FDS", std::to_string(emio::systemd::max_listen_fds).c_str(), 1));
  CHECK(::fcntl(fd, F_GETFD) < 0);
  CHECK_FALSE(emio::systemd::listen_fd(index).valid());
}

#ifdef __linux__
TEST(Systemd, AnAnonymousInodeAtACountedNumberIsNotHandedOut) {
  // LISTEN_FDS=1 with nothing passed: the executor's epoll or io_uring fd lands where fd 3 should be, and
  // adopting it would close the driver under the daemon. An epoll instance stands at the counted number.
  const uint32_t index = next_high_index++;
  const int fd = emio::systemd::first_listen_fd + static_cast<int>(index);
  CHECK_EQUAL(0, ::setenv("LISTEN_FDS", std::to_string(emio::systemd::max_listen_fds).c_str(), 1));
  CHECK(::fcntl(fd, F_GETFD) < 0);
  const emio::Fd poller(::epoll_create1(EPOLL_CLOEXEC));
  CHECK_EQUAL(fd, ::dup2(poller.get(), fd));
  CHECK_FALSE(emio::systemd::listen_fd(index).valid());
  CHECK(::fcntl(fd, F_GETFD) >= 0);  // still open: nobody took it
  ::close(fd);
}
#endif

TEST(Systemd, ANumberWithASignOrASpaceIsNotAWatchdogInterval) {
  for (const char* text : {"-1", "+2000000", " 2000000", "2000000 ", "0x10", ""}) {
    CHECK_EQUAL(0, ::setenv("WATCHDOG_USEC", text, 1));
    UNSIGNED_LONGLONGS_EQUAL_TEXT(0, emio::systemd::watchdog_interval_us(), text);
  }
  CHECK_EQUAL(0, ::setenv("WATCHDOG_USEC", "2000000", 1));
  UNSIGNED_LONGLONGS_EQUAL(2000000, emio::systemd::watchdog_interval_us());
}

TEST(Systemd, AWatchdogIntervalBeyondATimersPeriodPingsAtTheLongestPeriod) {
  // 2^32 ms and a little more, halved: a 32-bit cut would have pinged every second.
  start_watchdog("8589936592000");
  CHECK(executor.timers().next_timeout_ms(emio::monotonic_now_ms()) > 24 * 3600 * 1000);
}

TEST(Systemd, AStoppedWatchdogIsNotRunning) {
  start_watchdog("2000000");
  watchdog.stop();
  CHECK_FALSE(watchdog.running());
  CHECK_EQUAL(0u, executor.timers().size());
}
