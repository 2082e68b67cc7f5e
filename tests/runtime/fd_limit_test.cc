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

enum ChildStatus : int { as_expected = 0, setup_failed = 10, wrong_error = 11 };

// Takes every descriptor the (lowered) limit leaves.
bool exhaust_descriptors() {
  const rlimit low{64, 64};
  if (::setrlimit(RLIMIT_NOFILE, &low) != 0) return false;
  while (::dup(STDERR_FILENO) >= 0) {
  }
  return errno == EMFILE;
}

// Runs `scenario` in a child and returns its exit status.
int in_child(int (*scenario)()) {
  const pid_t child = ::fork();
  if (child == 0) ::_exit(scenario());
  int status = 0;
  CHECK_EQUAL(child, ::waitpid(child, &status, 0));
  CHECK(WIFEXITED(status));
  return WEXITSTATUS(status);
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
  if (!client.ok() || !exhaust_descriptors()) return setup_failed;
  // The connection waits in the backlog; accepting it needs a descriptor there is none of.
  const Error accepted = listener.value().try_accept().error();
  return accepted == Error::from_errno(EMFILE) ? as_expected : wrong_error;
}

int connect_out_of_descriptors() {
  emio::Executor executor;
  if (executor.init(emio_test::executor_config(0)).failed()) return setup_failed;
  if (!exhaust_descriptors()) return setup_failed;
  const Error connected =
      emio::TcpStream::connect_start(executor.handle(), REQUIRE_VALUE(emio::SocketAddress::parse("127.0.0.1:9")))
          .error();
  return connected == Error::from_errno(EMFILE) ? as_expected : wrong_error;
}

int pipe_out_of_descriptors() {
  emio::Executor executor;
  if (executor.init(emio_test::executor_config(0)).failed()) return setup_failed;
  if (!exhaust_descriptors()) return setup_failed;
  return emio::Pipe::open(executor.handle()).error() == Error::from_errno(EMFILE) ? as_expected : wrong_error;
}

}  // namespace

TEST_GROUP(FdLimit){};

TEST(FdLimit, AcceptWithoutAFreeDescriptorReportsEmfile) {
  CHECK_EQUAL(as_expected, in_child(accept_out_of_descriptors));
}

TEST(FdLimit, ConnectWithoutAFreeDescriptorReportsEmfile) {
  CHECK_EQUAL(as_expected, in_child(connect_out_of_descriptors));
}

TEST(FdLimit, PipeWithoutAFreeDescriptorReportsEmfile) { CHECK_EQUAL(as_expected, in_child(pipe_out_of_descriptors)); }
