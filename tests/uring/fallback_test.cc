// SPDX-License-Identifier: MIT
// The same binary keeps working where io_uring is refused: a forked child blocks io_uring with a
// seccomp filter (as Docker's default profile does, with EPERM; or as an old kernel would, with ENOSYS)
// and then runs real traffic through a driver that asked for io_uring.
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string_view>

#include "emio/driver/driver.h"
#include "emio/driver/operation.h"
#include "emio/port/log.h"
#include "support/check.h"
#include "support/sockets.h"
#include "uring/uring_support.h"

#if defined(EMIO_BACKEND_URING)

namespace {

// Child exit codes: which step failed.
enum ChildStatus : int { passed = 0, filter_refused, init_failed, wrong_backend, wrong_reason, traffic_failed, logged };

// Makes io_uring_setup, io_uring_enter and io_uring_register fail with `errno_value` on this thread.
// Raw classic BPF, no library: the three numbers are the same on every Linux architecture (425-427).
bool block_io_uring(int errno_value) {
  sock_filter filter[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 3, 0),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_enter, 2, 0),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_register, 1, 0),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (static_cast<unsigned>(errno_value) & SECCOMP_RET_DATA)),
  };
  sock_fprog program{static_cast<unsigned short>(sizeof filter / sizeof filter[0]), filter};
  return ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 && ::prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &program) == 0;
}

int log_lines = 0;
char last_log[256];
void count_log(emio::LogLevel, const char* message, void*) {
  log_lines += 1;
  std::strncpy(last_log, message, sizeof last_log - 1);
}

// An echo over a socketpair through completion operations, and a readiness event on a pipe.
bool traffic_flows(emio::Driver& driver) {
  auto pair = emio_test::make_socketpair(SOCK_STREAM);
  emio::OpSource source;
  if (driver.attach(source, pair.first.get()).failed()) return false;
  char buffer[8] = {};
  emio::Operation recv;
  bool received = false;
  emio::prepare_recv(recv, source, {reinterpret_cast<std::byte*>(buffer), sizeof buffer},
                     {[](void* flag) { *static_cast<bool*>(flag) = true; }, &received});
  if (driver.submit(recv).failed() || ::write(pair.second.get(), "fall", 4) != 4) return false;
  for (int turn = 0; turn < 1000 && !received; ++turn) (void)driver.turn(100);
  if (!received || recv.result != 4 || driver.detach(source).failed()) return false;

  auto pipe = emio_test::make_pipe();
  emio::Result<emio::Registration> added = driver.handle().add_source(pipe.first.get(), emio::Interest::readable);
  if (!added.ok() || ::write(pipe.second.get(), "x", 1) != 1) return false;
  for (int turn = 0; turn < 1000; ++turn) {
    if (added.value().io->readiness(emio::Direction::read).ready.is_readable()) return true;
    (void)driver.turn(100);
  }
  return false;
}

int run_child(int errno_value) {
  if (!block_io_uring(errno_value)) return filter_refused;
  emio::set_log_hook(count_log, nullptr);
  emio::Driver driver;
  if (driver.init(emio_test::uring_config(emio::BackendChoice::automatic)).failed()) return init_failed;
  if (std::string_view(driver.backend_name()) != "epoll") return wrong_backend;
  if (driver.fallback_reason() != emio::Error::from_errno(errno_value)) return wrong_reason;
  if (!traffic_flows(driver)) return traffic_failed;
  // Decided once for the process: a second driver falls back without a second log line.
  emio::Driver second;
  if (second.init(emio_test::uring_config(emio::BackendChoice::uring)).failed()) return init_failed;
  if (std::string_view(second.backend_name()) != "epoll") return wrong_backend;
  if (log_lines != 1 || std::strstr(last_log, "io_uring unavailable") == nullptr) return logged;
  return passed;
}

int status_of_child_blocked_with(int errno_value) {
  const pid_t child = ::fork();
  if (child == 0) ::_exit(run_child(errno_value));  // no CppUTest in the child: its exit code says it all
  int status = 0;
  if (::waitpid(child, &status, 0) != child || !WIFEXITED(status)) return -1;
  return WEXITSTATUS(status);
}

}  // namespace

TEST_GROUP(UringFallback){void setup() override{SKIP_WITHOUT_URING();
}
}
;

TEST(UringFallback, EnosysAtSetupRunsEpollWithTheReasonAndTrafficFlows) {
  CHECK_EQUAL(passed, status_of_child_blocked_with(ENOSYS));
}

TEST(UringFallback, EpermAtSetupRunsEpollWithTheReasonAndTrafficFlows) {
  CHECK_EQUAL(passed, status_of_child_blocked_with(EPERM));
}

TEST(UringFallback, AnExplicitEpollChoiceRunsEpollWithNoFallbackReason) {
  emio::Driver driver;
  CHECK_OK(driver.init(emio_test::uring_config(emio::BackendChoice::epoll)));
  STRCMP_EQUAL("epoll", driver.backend_name());
  CHECK_OK(driver.fallback_reason());
}

TEST(UringFallback, AnIoUringChoiceRunsIoUringWhereTheKernelAllowsIt) {
  emio::Driver driver;
  CHECK_OK(driver.init(emio_test::uring_config(emio::BackendChoice::uring)));
  STRCMP_EQUAL("uring", driver.backend_name());
  CHECK_OK(driver.fallback_reason());
}

#else  // an epoll-only build

TEST_GROUP(UringFallback){};

TEST(UringFallback, AnIoUringChoiceIsRefusedWhenNotCompiledIn) {
  emio::Driver driver;
  CHECK_ERROR(emio::Error::backend_unavailable, driver.init(emio_test::uring_config(emio::BackendChoice::uring)));
}

#endif
