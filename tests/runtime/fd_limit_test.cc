// SPDX-License-Identifier: MIT
// Running out of file descriptors (EMFILE) is an error value, not a crash: checked in a forked child
// whose RLIMIT_NOFILE is lowered and whose free descriptors are all taken, so the test runner keeps its
// own limit. The child reports through its exit status (no CppUTest assertions after fork).
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <optional>

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

// How the descriptor table is full once an accept is armed on the listener.
enum class RunOut : uint8_t {
  table_filled,   // every number under the limit taken (the limit set before the accept was armed)
  limit_lowered,  // the soft limit lowered to the lowest free number after it was armed (prlimit does that)
};

ChildStatus set_soft_fd_limit(rlim_t soft) {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return setup_failed;
  limit.rlim_cur = soft;
  return ::setrlimit(RLIMIT_NOFILE, &limit) == 0 ? as_expected : limit_unavailable;
}

int lowest_free_fd() {
  const int probe = ::dup(STDERR_FILENO);
  (void)::close(probe);
  return probe;
}

emio::Task<> accept_once(emio::TcpListener& listener, emio::SocketAddress& peer, uint32_t timeout_ms,
                         std::optional<emio::Result<emio::TcpStream>>& outcome) {
  outcome.emplace(co_await emio::with_timeout(timeout_ms, listener.accept(&peer)));
}

// One accept awaited on `listener` for up to `timeout_ms`: the stream or the error.
emio::Result<emio::TcpStream> accept_within(emio::Executor& executor, emio::TcpListener& listener,
                                            emio::SocketAddress& peer, uint32_t timeout_ms) {
  std::optional<emio::Result<emio::TcpStream>> outcome;
  if (!executor.spawn(accept_once(listener, peer, timeout_ms, outcome)).ok()) return Error::no_storage;
  while (!outcome.has_value()) {
    if (executor.run_once(10).failed()) return Error::shut_down;
  }
  return std::move(*outcome);
}

bool connect_blocking(int client, const emio::SocketAddress& address) {
  return ::connect(client, address.native(), address.native_length()) == 0;
}

bool is_local_address_of(const emio::SocketAddress& peer, int client) {
  sockaddr_storage storage{};
  socklen_t length = sizeof storage;
  if (::getsockname(client, reinterpret_cast<sockaddr*>(&storage), &length) != 0) return false;
  return emio::SocketAddress::from_native(reinterpret_cast<sockaddr*>(&storage), length) == peer;
}

// Makes the descriptor table full, `how`; `lowest_free`: its lowest free number now.
ChildStatus run_out_of_descriptors(RunOut how, int lowest_free) {
  if (how == RunOut::limit_lowered) return set_soft_fd_limit(static_cast<rlim_t>(lowest_free));
  while (::dup(STDERR_FILENO) >= 0) {
  }
  return errno == EMFILE ? as_expected : setup_failed;
}

// The next accept takes the connection of `client`, as the number `expected_fd` unless that is -1.
ChildStatus expect_accepted(emio::Executor& executor, emio::TcpListener& listener, int client, int expected_fd) {
  emio::SocketAddress peer;
  emio::Result<emio::TcpStream> accepted = accept_within(executor, listener, peer, 2000);
  if (!accepted.ok() || (expected_fd >= 0 && accepted.value().fd() != expected_fd)) return wrong_error;
  return is_local_address_of(peer, client) ? as_expected : wrong_error;
}

// An accept armed (on io_uring: the listener's accept in flight on the ring), then no free descriptor, then
// a client: the accept reports EMFILE and the connection waits; once a descriptor frees, the accept takes
// that connection with the freed number (nothing left open past the limit), and once the limit is raised
// again the listener accepts the next client at once.
int accept_out_of_descriptors_until_one_frees(RunOut how) {
  rlimit original{};
  if (::getrlimit(RLIMIT_NOFILE, &original) != 0) return setup_failed;
  if (how == RunOut::table_filled && set_soft_fd_limit(64) != as_expected) return limit_unavailable;
  emio::ExecutorConfig config = emio_test::executor_config(8);
  config.native_streams = {4, 64, 1};  // the listener accepts on the ring where the driver runs io_uring
  emio::Executor executor;
  if (executor.init(config).failed()) return setup_failed;
  emio::Result<emio::TcpListener> listener = emio::TcpListener::bind(executor.handle(), emio_test::loopback_any_port());
  if (!listener.ok()) return setup_failed;
  emio::Result<emio::SocketAddress> address = listener.value().local_address();
  const emio::Fd client(::socket(AF_INET, SOCK_STREAM, 0));
  const int spare = ::dup(STDERR_FILENO);  // the descriptor that frees
  emio::SocketAddress peer;
  if (!address.ok() || !client.valid() || spare < 0) return setup_failed;
  if (accept_within(executor, listener.value(), peer, 10).error() != emio::timed_out) return setup_failed;
  const int past_the_limit = lowest_free_fd();
  if (const ChildStatus full = run_out_of_descriptors(how, past_the_limit); full != as_expected) return full;
  if (!connect_blocking(client.get(), address.value())) return setup_failed;
  if (accept_within(executor, listener.value(), peer, 2000).error() != Error::from_errno(EMFILE)) return wrong_error;
  (void)::close(spare);
  if (const ChildStatus taken = expect_accepted(executor, listener.value(), client.get(), spare);
      taken != as_expected) {
    return taken;
  }
  if (how == RunOut::limit_lowered && ::fcntl(past_the_limit, F_GETFD) != -1) return wrong_error;  // moved, not kept
  if (::setrlimit(RLIMIT_NOFILE, &original) != 0) return setup_failed;
  const emio::Fd next(::socket(AF_INET, SOCK_STREAM, 0));
  if (!next.valid() || !connect_blocking(next.get(), address.value())) return setup_failed;
  return expect_accepted(executor, listener.value(), next.get(), -1);
}

int accept_with_the_table_filled() { return accept_out_of_descriptors_until_one_frees(RunOut::table_filled); }
int accept_with_the_limit_lowered() { return accept_out_of_descriptors_until_one_frees(RunOut::limit_lowered); }

}  // namespace

TEST_GROUP(FdLimit){};

TEST(FdLimit, AcceptWithoutAFreeDescriptorReportsEmfile) { check_in_child(accept_out_of_descriptors); }

TEST(FdLimit, ConnectWithoutAFreeDescriptorReportsEmfile) { check_in_child(connect_out_of_descriptors); }

TEST(FdLimit, PipeWithoutAFreeDescriptorReportsEmfile) { check_in_child(pipe_out_of_descriptors); }

TEST(FdLimit, AwaitedAcceptWithoutAFreeDescriptorReportsEmfileAndTakesTheConnectionOnceOneFrees) {
  check_in_child(accept_with_the_table_filled);
}

TEST(FdLimit, AcceptArmedBeforeTheFdLimitWasLoweredReportsEmfileAndTakesTheConnectionUnderTheLimit) {
  check_in_child(accept_with_the_limit_lowered);
}
