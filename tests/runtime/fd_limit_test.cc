// SPDX-License-Identifier: MIT
// Running out of file descriptors (EMFILE) is an error value, not a crash: checked in a forked child
// whose RLIMIT_NOFILE is lowered and whose free descriptors are all taken, so the test runner keeps its
// own limit. The child reports through its exit status (no CppUTest assertions after fork).
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "emio/runtime/runtime.h"
#include "runtime/runtime_fixture.h"
#include "support/check.h"

using emio::Error;

namespace {

enum ChildStatus : int { as_expected = 0, setup_failed = 10, wrong_error = 11, limit_unavailable = 12 };

// Takes every descriptor the (lowered) limit leaves. valgrind refuses to lower the limit (EPERM).
ChildStatus exhaust_descriptors() {
  const rlimit low{64, 64};
  if (::setrlimit(RLIMIT_NOFILE, &low) != 0) return limit_unavailable;
  while (::dup(STDERR_FILENO) >= 0) {
  }
  return errno == EMFILE ? as_expected : setup_failed;
}

// Runs `scenario` in a child and checks that it saw EMFILE.
void check_in_child(int (*scenario)()) {
  const pid_t child = ::fork();
  if (child == 0) ::_exit(scenario());
  int status = 0;
  CHECK_EQUAL(child, ::waitpid(child, &status, 0));
  CHECK(WIFEXITED(status));
  if (WEXITSTATUS(status) == limit_unavailable) {
    UT_PRINT("RLIMIT_NOFILE cannot be lowered here (valgrind): skipped");
    return;
  }
  CHECK_EQUAL(as_expected, WEXITSTATUS(status));
}

int accept_out_of_descriptors() {
  emio::Executor executor;  // a fresh one: the parent's driver must not be shared with a child
  if (executor.init(emio_test::executor_config(0)).failed()) return setup_failed;
  emio::Result<emio::TcpListener> listener =
      emio::TcpListener::bind(executor.handle(), REQUIRE_VALUE(emio::SocketAddress::parse("127.0.0.1:0")));
  if (!listener.ok()) return setup_failed;
  emio::Result<emio::SocketAddress> address = listener.value().local_address();
  if (!address.ok()) return setup_failed;
  emio::Result<emio::TcpStream> client = emio::TcpStream::connect_start(executor.handle(), address.value());
  if (!client.ok()) return setup_failed;
  if (const ChildStatus exhausted = exhaust_descriptors(); exhausted != as_expected) return exhausted;
  // The connection waits in the backlog; accepting it needs a descriptor there is none of.
  const Error accepted = listener.value().try_accept().error();
  return accepted == Error::from_errno(EMFILE) ? as_expected : wrong_error;
}

int connect_out_of_descriptors() {
  emio::Executor executor;
  if (executor.init(emio_test::executor_config(0)).failed()) return setup_failed;
  if (const ChildStatus exhausted = exhaust_descriptors(); exhausted != as_expected) return exhausted;
  const Error connected =
      emio::TcpStream::connect_start(executor.handle(), REQUIRE_VALUE(emio::SocketAddress::parse("127.0.0.1:9")))
          .error();
  return connected == Error::from_errno(EMFILE) ? as_expected : wrong_error;
}

int pipe_out_of_descriptors() {
  emio::Executor executor;
  if (executor.init(emio_test::executor_config(0)).failed()) return setup_failed;
  if (const ChildStatus exhausted = exhaust_descriptors(); exhausted != as_expected) return exhausted;
  return emio::Pipe::open(executor.handle()).error() == Error::from_errno(EMFILE) ? as_expected : wrong_error;
}

}  // namespace

TEST_GROUP(FdLimit){};

TEST(FdLimit, AcceptWithoutAFreeDescriptorReportsEmfile) { check_in_child(accept_out_of_descriptors); }

TEST(FdLimit, ConnectWithoutAFreeDescriptorReportsEmfile) { check_in_child(connect_out_of_descriptors); }

TEST(FdLimit, PipeWithoutAFreeDescriptorReportsEmfile) { check_in_child(pipe_out_of_descriptors); }
