// SPDX-License-Identifier: MIT
// Signals as driver events, raised at the test itself: the listener blocks them, so raise() leaves them
// pending for the signalfd instead of running their default action; the self-pipe variant (macOS, the
// BSDs, and the kqueue build here) catches them with a handler that writes to its pipe.
#include <pthread.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>

#include "emio/runtime/runtime.h"
#include "runtime/runtime_fixture.h"
#include "support/check.h"

using emio::Result;
using emio::SignalListener;
using emio::SignalSet;

namespace {

emio::Task<> next_signal(SignalListener& listener, int& received) {
  Result<int> signal_number = co_await listener.next();
  received = REQUIRE_VALUE(signal_number);
}

// Which mechanism this build listens with (runtime/CMakeLists.txt): a signalfd on Linux; the self-pipe on
// macOS and the BSDs, and in the kqueue build on Linux, which builds what those systems run.
#if defined(__linux__) && !defined(EMIO_BACKEND_KQUEUE)
constexpr bool through_self_pipe = false;
#else
constexpr bool through_self_pipe = true;
#endif

// The self-pipe catches the signal with a handler instead of blocking it: what open() must change.
bool caught_by_a_handler(int signal_number) {
  struct sigaction action {};
  CHECK_EQUAL(0, ::sigaction(signal_number, nullptr, &action));
  return action.sa_handler != SIG_DFL && action.sa_handler != SIG_IGN;
}

bool blocked_in_this_thread(int signal_number) {
  sigset_t mask;
  CHECK_EQUAL(0, ::pthread_sigmask(SIG_SETMASK, nullptr, &mask));
  return sigismember(&mask, signal_number) == 1;
}

}  // namespace

TEST_GROUP(Signals) {
  emio::Executor executor;
  void setup() override { CHECK_OK(executor.init(emio_test::executor_config(2))); }
  SignalListener open(SignalSet signals) { return REQUIRE_TAKE(SignalListener::open(executor.handle(), signals)); }
};

TEST(Signals, RaisedSignalIsReadFromTheListener) {
  SignalListener listener = open(SignalSet::daemon_signals());
  CHECK_EQUAL(0, ::raise(SIGUSR1));
  CHECK_OK(executor.run_once(0));
  CHECK_EQUAL(SIGUSR1, REQUIRE_VALUE(listener.try_next()));
}

TEST(Signals, NoPendingSignalWouldBlock) {
  SignalListener listener = open(SignalSet().with(SIGUSR2));
  CHECK_ERROR(emio::would_block, listener.try_next().error());
}

TEST(Signals, AwaitedSignalResumesTheTask) {
  SignalListener listener = open(SignalSet::daemon_signals());
  int received = 0;
  Result<emio::TaskId> task = executor.spawn(next_signal(listener, received));
  CHECK_OK(executor.run_once(0));
  CHECK_EQUAL(0, ::raise(SIGHUP));
  emio_test::run_to_completion(executor, task);
  CHECK_EQUAL(SIGHUP, received);
}

TEST(Signals, TwoDifferentSignalsBothArrive) {
  SignalListener listener = open(SignalSet::daemon_signals());
  CHECK_EQUAL(0, ::raise(SIGTERM));
  CHECK_EQUAL(0, ::raise(SIGINT));
  const int first = REQUIRE_VALUE(listener.try_next());
  const int second = REQUIRE_VALUE(listener.try_next());
  CHECK(first != second);
  CHECK(first == SIGTERM || first == SIGINT);
  CHECK(second == SIGTERM || second == SIGINT);
}

TEST(Signals, CloseAndRestoreAfterCloseStillRestores) {
  sigset_t usr2;
  sigemptyset(&usr2);
  sigaddset(&usr2, SIGUSR2);
  CHECK_EQUAL(0, ::pthread_sigmask(SIG_UNBLOCK, &usr2, nullptr));
  SignalListener listener = open(SignalSet().with(SIGUSR2));
  CHECK_OK(listener.close());
  CHECK_OK(listener.close_and_restore());
  CHECK_FALSE(blocked_in_this_thread(SIGUSR2));
  CHECK_FALSE(caught_by_a_handler(SIGUSR2));
}

TEST(Signals, CloseLeavesTheSignalsCaught) {
  SignalListener listener = open(SignalSet().with(SIGUSR2));
  CHECK_OK(listener.close());
  if (through_self_pipe) {
    CHECK(caught_by_a_handler(SIGUSR2));  // the handler stays, and now discards
  } else {
    CHECK(blocked_in_this_thread(SIGUSR2));
  }
}

TEST(Signals, OpenBlocksTheSignalsInTheCallingThread) {
  SignalListener listener = open(SignalSet().with(SIGUSR2));
  if (through_self_pipe) {
    CHECK_FALSE(blocked_in_this_thread(SIGUSR2));  // the handler must run, so nothing is blocked
    CHECK(caught_by_a_handler(SIGUSR2));
  } else {
    CHECK(blocked_in_this_thread(SIGUSR2));
  }
}

TEST(Signals, CloseAndRestoreRestoresThePreviousMask) {
  sigset_t usr2;
  sigemptyset(&usr2);
  sigaddset(&usr2, SIGUSR2);
  CHECK_EQUAL(0, ::pthread_sigmask(SIG_UNBLOCK, &usr2, nullptr));  // an earlier test's close() left it blocked
  SignalListener listener = open(SignalSet().with(SIGUSR2));
  CHECK_OK(listener.close_and_restore());
  CHECK_FALSE(blocked_in_this_thread(SIGUSR2));
  CHECK_FALSE(caught_by_a_handler(SIGUSR2));  // the self-pipe's handler is gone again
}

TEST(Signals, OnlyOneSelfPipeListenerPerProcess) {
  if (!through_self_pipe) return;  // signalfd listeners are independent of each other
  SignalListener first = open(SignalSet().with(SIGUSR1));
  CHECK_ERROR(emio::Error::from_errno(EBUSY),
              SignalListener::open(executor.handle(), SignalSet().with(SIGUSR2)).error());
  CHECK_OK(first.close());
  SignalListener second = open(SignalSet().with(SIGUSR2));  // free again once the first one closed
  CHECK(second.is_open());
}

TEST(Signals, ASignalAfterCloseDoesNotKillTheProcess) {
  // In a child: its default action (terminate) would end the test runner.
  const pid_t child = ::fork();
  CHECK(child >= 0);
  if (child == 0) {
    emio::Executor own;  // the parent's poller is shared across fork; the child makes its own
    if (own.init(emio_test::executor_config(0)).failed()) ::_exit(2);
    Result<SignalListener> listener = SignalListener::open(own.handle(), SignalSet().with(SIGUSR1));
    if (!listener.ok() || listener.value().close().failed()) ::_exit(3);
    (void)::raise(SIGUSR1);
    ::_exit(0);
  }
  int status = 0;
  CHECK_EQUAL(child, ::waitpid(child, &status, 0));
  CHECK_TEXT(WIFEXITED(status), "killed by the signal raised after close()");
  CHECK_EQUAL(0, WEXITSTATUS(status));
}

// Regression (found by review): the first listener's close_and_restore() unblocked the signal while a
// second one still listened, and the signal killed the process.
TEST(Signals, CloseAndRestoreKeepsASignalAnotherListenerWaitsFor) {
  if (through_self_pipe) return;  // one self-pipe listener per process
  const pid_t child = ::fork();   // the signal's default action would end the test runner
  CHECK(child >= 0);
  if (child == 0) {
    emio::Executor own;
    if (own.init(emio_test::executor_config(0)).failed()) ::_exit(2);
    Result<SignalListener> first = SignalListener::open(own.handle(), SignalSet().with(SIGUSR1));
    Result<SignalListener> second = SignalListener::open(own.handle(), SignalSet().with(SIGUSR1));
    if (!first.ok() || !second.ok() || first.value().close_and_restore().failed()) ::_exit(3);
    (void)::raise(SIGUSR1);
    const Result<int> received = second.value().try_next();
    ::_exit(received.ok() && received.value() == SIGUSR1 ? 0 : 4);
  }
  int status = 0;
  CHECK_EQUAL(child, ::waitpid(child, &status, 0));
  CHECK_TEXT(WIFEXITED(status), "killed by a signal the second listener was open for");
  CHECK_EQUAL(0, WEXITSTATUS(status));
}

TEST(Signals, UncatchableSignalIsRefused) {
  CHECK_ERROR(emio::Error::from_errno(EINVAL),
              SignalListener::open(executor.handle(), SignalSet().with(SIGKILL)).error());
}

TEST(Signals, EmptySetIsRefused) {
  CHECK_ERROR(emio::Error::from_errno(EINVAL), SignalListener::open(executor.handle(), SignalSet()).error());
}

TEST(Signals, OutOfRangeSignalIsRefused) {
  CHECK_ERROR(emio::Error::from_errno(EINVAL), SignalListener::open(executor.handle(), SignalSet().with(64)).error());
}
